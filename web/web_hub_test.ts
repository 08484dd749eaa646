/**
 * The page with the Hub, in headless Chromium: a dataset id and a model id are fetched from the
 * fake Hub (tests/_hub_server.ts, given to the page as `?hub=`) with CORS into the Cache API; a
 * reload downloads nothing again; a missing and a gated model are messages on the page; with the
 * server stopped the cached model still loads. The page asks for no token. A screenshot of the
 * loaded page goes to .cache/test/web-hub/web-hub.png.
 *
 * @module
 */

import assert from "node:assert/strict";
import { init } from "../mod.ts";
import { CHROMIUM, exists, WEBGPU_ERROR } from "../tests/browser/harness.ts";
import { HubTestServer } from "../tests/_hub_server.ts";
import { parquetDatasetRepo, tinyVitRepo } from "../tests/_hub_fixtures.ts";
import { buildWeb } from "./build.ts";
import { serveWeb } from "./serve.ts";

const OUT = `${Deno.cwd()}/.cache/test/web-hub`;
const FLAGS = [
  "--headless=new",
  "--no-sandbox",
  "--enable-unsafe-webgpu",
  "--enable-features=Vulkan",
];
const NAMES = ["angular_leaf_spot", "bean_rust", "healthy"];
const available = exists(CHROMIUM);

Deno.test({
  name: available
    ? "the page caches a Hub dataset and model, shows Hub errors, and works offline from the cache"
    : `the page with Hub ids (ignored: ${CHROMIUM} is missing)`,
  ignore: !available,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await init();
    await Deno.remove(OUT, { recursive: true }).catch(() => {});
    const hub = await new HubTestServer([
      await tinyVitRepo("tessera-test/tiny-vit", NAMES, 4),
      { ...(await tinyVitRepo("tessera-test/gated", NAMES, 5)), gated: true },
      parquetDatasetRepo("AI-Lab-Makerere/beans", NAMES, { train: 9, validation: 3 }, ["beans"]),
    ]).start();
    await buildWeb(`${OUT}/dist`, false);
    const server = serveWeb({ dist: `${OUT}/dist`, root: Deno.cwd(), port: 0 });
    const url = `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}/?hub=${
      encodeURIComponent(hub.endpoint)
    }`;
    // deno-lint-ignore no-import-prefix -- dev-only: `deno task` installs deno.json's imports
    const { default: puppeteer } = await import("npm:puppeteer-core@24");
    const browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      userDataDir: `${OUT}/profile`,
    });
    const log: string[] = [];
    let hubUp = true;
    try {
      const page = await browser.newPage();
      await page.setViewport({ width: 1280, height: 900 });
      page.on("console", (m) => log.push(`${m.type()}: ${m.text()}`));
      page.on("pageerror", (e) => log.push(`pageerror: ${(e as Error).message ?? e}`));
      const text = (selector: string) => page.$eval(selector, (e) => e.textContent ?? "");
      const until = async (what: string, fn: string, timeout = 60_000) => {
        try {
          await page.waitForFunction(fn, { timeout, polling: 100 });
        } catch (error) {
          const messages = await page.$$eval(".message", (es) => es.map((e) => e.textContent));
          throw new Error(
            `waiting for ${what}: ${error}\nmessages: ${messages.join(" | ")}\n` +
              `progress: ${await text("#progress-text")}\nconsole:\n${log.join("\n")}`,
          );
        }
      };
      const message = async (kind: string) => {
        await until(`a ${kind} message`, `document.querySelector('.message[data-kind="${kind}"]')`);
        const m = await text(`.message[data-kind="${kind}"] p`);
        await page.click(`.message[data-kind="${kind}"] button`);
        return m;
      };
      const loadModel = async (id: string) => {
        await page.$eval("#hub-model-id", (e) => (e as unknown as { value: string }).value = "");
        await page.type("#hub-model-id", id);
        await page.click("#hub-model-form button[type=submit]");
      };
      const modelLoaded = (id: string) =>
        until(
          `model ${id}`,
          `document.getElementById('model-text').textContent.startsWith(${
            JSON.stringify(id)
          } + ":")`,
        );
      const open = async () => {
        await page.goto(url);
        await until(
          "the bundled model",
          "/bundled-model/.test(document.getElementById('model-text').textContent)",
        );
        await page.click("input[name=model-source][value=hub]");
      };

      await open();
      // No token field anywhere on the page.
      assert.equal(
        await page.$$eval("input", (es) => es.filter((e) => /token/i.test(e.id)).length),
        0,
      );
      await page.type("#hub-data-id", "beans");
      await page.click("#hub-data-form button[type=submit]");
      await until("the Hub dataset", "!document.getElementById('data-summary').hidden");
      assert.match(await text("#data-text"), /^beans: 3 classes; train 9, validation 3 images/);
      await loadModel("tessera-test/tiny-vit");
      await modelLoaded("tessera-test/tiny-vit");
      assert.match(await text("#model-text"), /tessera-test\/tiny-vit: 0\.0\d M parameters, 32 px/);
      await page.screenshot({ path: `${OUT}/web-hub.png`, fullPage: true });
      const cdn = hub.requests.filter((r) => r.server === "cdn" && r.method === "GET");
      assert.equal(cdn.length, 3, "weights and two parquet files from the CDN");
      assert.ok(hub.requests.every((r) => r.authorization === null), "no token sent");

      await loadModel("nobody/nothing");
      assert.match(await message("model"), /model 'nobody\/nothing' not found on http:/);
      await loadModel("tessera-test/gated");
      assert.match(
        await message("model"),
        new RegExp(
          "model 'tessera-test\\/gated' is gated: accept its terms at " +
            "http:.*tessera-test\\/gated and set HF_TOKEN",
        ),
      );

      // A second visit: the Cache API has the files; only listings are asked for.
      const before = hub.requests.length;
      await open();
      await loadModel("tessera-test/tiny-vit");
      await modelLoaded("tessera-test/tiny-vit");
      assert.deepEqual(
        hub.requests.slice(before).filter((r) =>
          r.path.includes("/resolve/") || r.server === "cdn"
        ),
        [],
      );

      // Offline: the server is gone, the cached model loads; an uncached one says so.
      await hub.stop();
      hubUp = false;
      await open();
      await loadModel("tessera-test/tiny-vit");
      await modelLoaded("tessera-test/tiny-vit");
      await loadModel("tessera-test/other");
      assert.match(
        await message("model"),
        /cannot reach .* is not in the cache \(the browser's cache\)/,
      );
    } finally {
      await browser.close();
      await server.shutdown();
      if (hubUp) await hub.stop();
    }
    const bad = log.filter((line) => WEBGPU_ERROR.test(line) || /^pageerror|Uncaught/.test(line));
    assert.deepEqual(bad, [], `Chromium's console:\n${log.join("\n")}`);
  },
});
