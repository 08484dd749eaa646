import assert from "node:assert/strict";
import { hubConfigFromEnv } from "./config.ts";

const from = (vars: Record<string, string>, tokenFile?: Record<string, string>) =>
  hubConfigFromEnv((k) => vars[k], (path) => tokenFile?.[path]);

Deno.test("hubConfigFromEnv() finds the cache in huggingface_hub's order of variables", () => {
  assert.equal(from({ HOME: "/u" }).cacheDir, "/u/.cache/huggingface/hub");
  assert.equal(from({ HOME: "/u", XDG_CACHE_HOME: "/x" }).cacheDir, "/x/huggingface/hub");
  assert.equal(from({ HOME: "/u", XDG_CACHE_HOME: "/x", HF_HOME: "~/hf" }).cacheDir, "/u/hf/hub");
  assert.equal(from({ HF_HOME: "/h", HUGGINGFACE_HUB_CACHE: "/old" }).cacheDir, "/old");
  assert.equal(
    from({ HF_HOME: "/h", HUGGINGFACE_HUB_CACHE: "/old", HF_HUB_CACHE: "/c" }).cacheDir,
    "/c",
  );
});

Deno.test("hubConfigFromEnv() reads the endpoint, offline and progress switches, token", () => {
  const base = from({ HOME: "/u" });
  assert.equal(base.endpoint, "https://huggingface.co");
  assert.equal(base.offline, false);
  assert.equal(base.progressBars, true);
  assert.equal(base.token, undefined);
  assert.equal(from({ HF_ENDPOINT: "http://mirror:8080/" }).endpoint, "http://mirror:8080");
  for (const v of ["1", "ON", "yes", "true"]) {
    assert.equal(from({ HF_HUB_OFFLINE: v }).offline, true);
  }
  assert.equal(from({ HF_HUB_OFFLINE: "0" }).offline, false);
  assert.equal(from({ TRANSFORMERS_OFFLINE: "1" }).offline, true);
  assert.equal(from({ HF_HUB_DISABLE_PROGRESS_BARS: "1" }).progressBars, false);
  assert.equal(from({ HF_HOME: "/h" }, { "/h/token": "hf_file\n" }).token, "hf_file");
  assert.equal(
    from({ HF_HOME: "/h", HF_TOKEN: "hf_env" }, { "/h/token": "hf_file" }).token,
    "hf_env",
  );
});
