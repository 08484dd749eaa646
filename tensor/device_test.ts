import assert from "node:assert/strict";
import { describeAdapter, gpu } from "./device.ts";

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
