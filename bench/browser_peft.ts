/**
 * ViT-B/16 LoRA training steps in headless Chromium (WebGPU on SwiftShader where there is no
 * GPU): bundles `bench/browser_peft_entry.ts`, serves it on 127.0.0.1, and prints what the tab
 * measured with `deno task bench --peft-memory`'s code (step times, the buffer pool's peak and
 * holdings, the textures), then saves a screenshot of the tab.
 *
 * ```sh
 * deno run --lock=deno.dev.lock --allow-read=.,/usr/bin/chromium --allow-write=.cache,docs \
 *   --allow-run --allow-net=127.0.0.1 --allow-env bench/browser_peft.ts --batch 2 --steps 2 \
 *   [--modes lora-r16+checkpointing] [--screenshot docs/peft_chromium.png]
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { CHROMIUM } from "../tests/browser/harness.ts";
import type { BrowserPeftResult } from "./browser_peft_entry.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    batch: { type: "string", default: "2" },
    steps: { type: "string", default: "2" },
    modes: { type: "string", default: "lora-r16+checkpointing" },
    screenshot: { type: "string" },
    "timeout-min": { type: "string", default: "60" },
  },
});

const OUT = ".cache/bench/browser_peft";
await Deno.mkdir(OUT, { recursive: true });
const bundled = await new Deno.Command(Deno.execPath(), {
  args: [
    "bundle",
    "--quiet",
    "--platform",
    "browser",
    "--format",
    "esm",
    "-o",
    `${OUT}/entry.js`,
    "bench/browser_peft_entry.ts",
  ],
  stdout: "null",
  stderr: "piped",
}).output();
if (!bundled.success) {
  console.error(`deno bundle failed:\n${new TextDecoder().decode(bundled.stderr)}`);
  Deno.exit(1);
}
const js = await Deno.readFile(`${OUT}/entry.js`);
const html = '<!doctype html><meta charset="utf-8"><title>Tessera: ViT-B LoRA</title>' +
  '<body style="white-space: pre-wrap; font: 14px monospace"></body>' +
  '<script type="module" src="/entry.js"></script>';
const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
  const path = new URL(request.url).pathname;
  if (path === "/entry.js") {
    return new Response(js, { headers: { "content-type": "text/javascript" } });
  }
  if (path === "/") return new Response(html, { headers: { "content-type": "text/html" } });
  // No icon: an empty answer keeps a 404 out of the console.
  if (path === "/favicon.ico") return new Response(null, { status: 204 });
  return new Response(null, { status: 404 });
});
// deno-lint-ignore no-import-prefix -- dev-only: `deno task` installs deno.json's imports
const { default: puppeteer } = await import("npm:puppeteer-core@24");
const browser = await puppeteer.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ["--headless=new", "--no-sandbox", "--enable-unsafe-webgpu", "--enable-features=Vulkan"],
  userDataDir: `${OUT}/profile`,
  protocolTimeout: Number(values["timeout-min"]) * 60_000,
});
let failed = false;
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1100, height: 260 });
  page.on("console", (m) => console.log(`page: ${m.text()}`));
  page.on("pageerror", (e) => console.log(`page error: ${(e as Error).message ?? e}`));
  const query = new URLSearchParams({
    batch: values.batch!,
    steps: values.steps!,
    modes: values.modes!,
  });
  const t0 = performance.now();
  await page.goto(`http://127.0.0.1:${(server.addr as Deno.NetAddr).port}/?${query}`);
  await page.waitForFunction("globalThis.result !== undefined", { timeout: 60_000 });
  const result = await page.evaluate("globalThis.result") as BrowserPeftResult;
  console.log(JSON.stringify({ ...result, wall_s: (performance.now() - t0) / 1000 }));
  failed = "error" in result;
  if (values.screenshot) await page.screenshot({ path: values.screenshot });
} finally {
  await browser.close();
  await server.shutdown();
}
Deno.exit(failed ? 1 : 0);
