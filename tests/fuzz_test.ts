import assert from "node:assert/strict";
import { fuzzImages, fuzzSafetensors } from "./fuzz.ts";
import { init } from "../tensor/runtime.ts";

await init();

Deno.test("2000 mutated safetensors files parse or fail with SafetensorsError, each fast", () => {
  const r = fuzzSafetensors(2000);
  assert.deepEqual(r.failures, []);
  assert.equal(r.ok + r.refused, 2000);
  assert.ok(r.refused > 500, `most mutations are refused (${r.refused})`);
});

Deno.test("1000 mutated JPEGs and PNGs decode or fail with ImageDecodeError, bounded", () => {
  const r = fuzzImages(1000);
  assert.deepEqual(r.failures, []);
  assert.equal(r.ok + r.refused, 1000);
});
