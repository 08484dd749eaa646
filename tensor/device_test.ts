import assert from "node:assert/strict";
import { describeAdapter, gpu, simdLanesOf } from "./device.ts";

Deno.test("the device is requested with the adapter's own maxima", () => {
  const { adapter, device } = gpu();
  for (
    const name of [
      "maxStorageBufferBindingSize",
      "maxBufferSize",
      "maxComputeWorkgroupStorageSize",
      "maxComputeInvocationsPerWorkgroup",
    ] as const
  ) {
    assert.equal(device.limits[name], adapter.limits[name], name);
  }
});

Deno.test("describeAdapter() gives one line with vendor and backend", () => {
  const line = describeAdapter();
  assert.ok(!line.includes("\n"));
  assert.match(line, /^vendor \S+, .+, (Vulkan|GL|native), (software|hardware)/);
});

Deno.test("simdLanesOf reads llvmpipe's vector width", () => {
  assert.equal(simdLanesOf("llvmpipe (LLVM 15.0.6, 256 bits)"), 8);
  assert.equal(simdLanesOf("llvmpipe (LLVM 15.0.6, 512 bits)"), 16);
  assert.equal(simdLanesOf("llvmpipe (LLVM 15.0.6, 128 bits)"), 4);
  assert.equal(simdLanesOf("NVIDIA H100"), 8);
  assert.equal(simdLanesOf("odd 100 bits"), 8);
  const { isCpu, simdLanes, adapter } = gpu();
  if (isCpu) assert.equal(simdLanes, simdLanesOf(adapter.info.description));
});
