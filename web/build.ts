/**
 * `deno task web:build`: the page as static files for any host, in `web/dist/` (or `--out
 * DIR`): the three browser bundles (the page; its training worker, with the library inside;
 * the worker that draws the demo set), index.html, style.css and the bundled model.
 *
 * @module
 */

/** The page's files that are copied as they are. */
const STATIC = ["index.html", "style.css"];
/** The bundled model's files the page fetches. */
export const MODEL_FILES = ["config.json", "model.safetensors", "preprocessor_config.json"];
/** The bundled model, relative to the repository root. */
export const MODEL_DIR = "models/vit-tiny-contours";

const here = (path: string) => new URL(path, import.meta.url).pathname;

/**
 * Bundles one entry for browsers, as the `bundle` task does.
 *
 * @param entry The TypeScript entry.
 * @param out The JavaScript file to write.
 */
async function bundle(entry: string, out: string): Promise<void> {
  // By name, not Deno.execPath(), so that the task needs only --allow-run=deno.
  const { success, stderr } = await new Deno.Command("deno", {
    args: ["bundle", "--quiet", "--platform", "browser", "--format", "esm", "-o", out, entry],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!success) throw new Error(`deno bundle ${entry}:\n${new TextDecoder().decode(stderr)}`);
}

/**
 * Writes the page into `out`.
 *
 * @param out The folder (made if needed).
 * @param withModel Copy the bundled model too (the local server serves it from models/).
 * @example
 * ```ts ignore
 * import { buildWeb } from "./build.ts";
 * await buildWeb("web/dist");
 * ```
 */
export async function buildWeb(out: string, withModel = true): Promise<void> {
  await Deno.mkdir(out, { recursive: true });
  await Promise.all([
    bundle(here("app.ts"), `${out}/app.js`),
    bundle(here("worker.ts"), `${out}/worker.js`),
    bundle(here("demo_worker.ts"), `${out}/demo_worker.js`),
  ]);
  for (const name of STATIC) await Deno.copyFile(here(name), `${out}/${name}`);
  if (withModel) {
    await Deno.mkdir(`${out}/${MODEL_DIR}`, { recursive: true });
    for (const name of MODEL_FILES) {
      await Deno.copyFile(here(`../${MODEL_DIR}/${name}`), `${out}/${MODEL_DIR}/${name}`);
    }
  }
}

if (import.meta.main) {
  const i = Deno.args.indexOf("--out");
  const out = i >= 0 ? Deno.args[i + 1] : here("dist");
  await buildWeb(out);
  console.log(`web: built ${out} (serve it from any static host, or deno task web)`);
}
