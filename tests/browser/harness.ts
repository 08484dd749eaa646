/**
 * Runs Tessera in headless Chromium: bundles `browser.ts` (the exports without the Deno file
 * layer) as the `bundle` task does, serves the bundle and a small page on 127.0.0.1 at a free
 * port, and drives Chromium through puppeteer-core, collecting its console.
 *
 * @module
 */

import type { LoaderReport, StepsReport } from "./tiny_vit_steps.ts";
import type { TrainerReport } from "./trainer_steps.ts";

/** The browser the harness drives. */
export const CHROMIUM = "/usr/bin/chromium";

/** Chromium's flags: headless, WebGPU on (SwiftShader where there is no GPU) through Vulkan. */
const FLAGS = [
  "--headless=new",
  "--no-sandbox",
  "--enable-unsafe-webgpu",
  "--enable-features=Vulkan",
];

/** Where bundles and Chromium's profile go (inside the tests' writable folder). */
const OUT = ".cache/test/browser";

/** Chromium's console lines that mean WebGPU rejected something. */
export const WEBGPU_ERROR = new RegExp(
  "GPUValidationError|validation|aliasing|synchronization scope|" +
    "Invalid (CommandBuffer|BindGroup|ComputePipeline|ShaderModule)|WebGPU reported",
  "i",
);

/** What the page was asked to run: {@link trainTinyViT}'s arguments. */
export interface PageRun {
  /** Number of steps. */
  steps: number;
  /** ViT config fields over the tiny defaults. */
  config?: Record<string, unknown>;
  /** Images per step. */
  batch?: number;
}

/** What a page run gave. */
export interface BrowserRun {
  /** The page's report. */
  report: StepsReport;
  /** The page's DataLoader batches. */
  loader: LoaderReport;
  /** The page's Trainer run. */
  trainer: TrainerReport;
  /** Every console line and page error, as `type: text`. */
  log: string[];
}

/**
 * Whether a file exists (only NotFound counts as absent; a missing permission throws).
 *
 * @param path The file.
 * @returns True when it exists.
 */
export function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Bundles `entry` for browsers (the `bundle` task's flags) into `OUT/name`. */
async function bundle(entry: string, name: string): Promise<Uint8Array<ArrayBuffer>> {
  const out = `${OUT}/${name}`;
  const { success, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform", "browser", "--format", "esm", "-o", out, entry],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!success) {
    throw new Error(`deno bundle ${entry} failed:\n${new TextDecoder().decode(stderr)}`);
  }
  return await Deno.readFile(out);
}

/** Serves `files` (path to bytes and type) on 127.0.0.1 at a free port. */
function serve(files: Record<string, [Uint8Array<ArrayBuffer>, string]>): Deno.HttpServer {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const path = new URL(request.url).pathname;
    // No icon: an empty answer keeps a 404 out of the console.
    if (path === "/favicon.ico") return new Response(null, { status: 204 });
    const file = files[path === "/" ? "/index.html" : path];
    if (!file) return new Response("not found", { status: 404 });
    return new Response(file[0], { headers: { "content-type": file[1] } });
  });
}

/**
 * Bundles the library and the step modules, serves them with `tests/browser/index.html`, and
 * runs the page in headless Chromium.
 *
 * @param run What the page runs.
 * @param timeoutMs How long the page may take.
 * @returns The page's report and Chromium's console.
 */
export async function runInChromium(run: PageRun, timeoutMs = 240_000): Promise<BrowserRun> {
  await Deno.mkdir(OUT, { recursive: true });
  await Deno.remove(`${OUT}/profile`, { recursive: true }).catch(() => {});
  const js = "text/javascript";
  const server = serve({
    "/index.html": [await Deno.readFile("tests/browser/index.html"), "text/html"],
    "/tessera.js": [await bundle("browser.ts", "tessera.js"), js],
    "/tiny_vit_steps.js": [
      await bundle("tests/browser/tiny_vit_steps.ts", "tiny_vit_steps.js"),
      js,
    ],
    "/trainer_steps.js": [await bundle("tests/browser/trainer_steps.ts", "trainer_steps.js"), js],
  });
  // deno-lint-ignore no-import-prefix -- dev-only: `deno task` installs deno.json's imports
  const { default: puppeteer } = await import("npm:puppeteer-core@24");
  const log: string[] = [];
  try {
    const browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      userDataDir: `${OUT}/profile`,
    });
    try {
      const page = await browser.newPage();
      page.on("console", (m) => log.push(`${m.type()}: ${m.text()}`));
      page.on("pageerror", (e) => log.push(`pageerror: ${(e as Error).message ?? e}`));
      const query = new URLSearchParams({
        steps: String(run.steps),
        batch: String(run.batch ?? 4),
        config: JSON.stringify(run.config ?? {}),
      });
      await page.goto(`http://127.0.0.1:${(server.addr as Deno.NetAddr).port}/?${query}`);
      // A boolean: puppeteer would await a promise here, under this wait's shorter timeout.
      await page.waitForFunction("globalThis.result !== undefined", { timeout: 60_000 });
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`the page took over ${timeoutMs} ms`)),
          timeoutMs,
        );
      });
      const result = await Promise.race([page.evaluate("globalThis.result"), timeout])
        .finally(() => clearTimeout(timer)) as {
          report?: StepsReport;
          loader?: LoaderReport;
          trainer?: TrainerReport;
          error?: string;
        };
      if (result.error) {
        throw new Error(`in Chromium: ${result.error}\nconsole:\n${log.join("\n")}`);
      }
      return { report: result.report!, loader: result.loader!, trainer: result.trainer!, log };
    } finally {
      await browser.close();
    }
  } finally {
    await server.shutdown();
  }
}
