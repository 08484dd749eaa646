import assert from "node:assert/strict";
import { describeAdapter, gpu } from "./device.ts";
import {
  type AdapterDescription,
  describeProfile,
  isSoftware,
  simdLanesOf,
} from "./core/profile.ts";
import { init } from "./runtime.ts";

await init();

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
  assert.match(
    line,
    /^vendor \S+, .+, (software|hardware), (shader-f16|no f16)/,
  );
});

Deno.test("simdLanesOf reads llvmpipe's vector width", () => {
  assert.equal(simdLanesOf("llvmpipe (LLVM 15.0.6, 256 bits)"), 8);
  assert.equal(simdLanesOf("llvmpipe (LLVM 15.0.6, 512 bits)"), 16);
  assert.equal(simdLanesOf("llvmpipe (LLVM 15.0.6, 128 bits)"), 4);
  assert.equal(simdLanesOf("NVIDIA H100"), 8);
  assert.equal(simdLanesOf("odd 100 bits"), 8);
  const { profile } = gpu();
  if (profile.software) assert.equal(profile.simdLanes, simdLanesOf(profile.info.description));
});

const said = (fields: Partial<AdapterDescription>): AdapterDescription => ({
  vendor: "",
  architecture: "",
  device: "",
  description: "",
  isFallbackAdapter: null,
  ...fields,
});

Deno.test("a software adapter is known by its own fallback flag, else by Mesa's vendor id", () => {
  assert.equal(isSoftware(said({ isFallbackAdapter: true, vendor: "google" })), true);
  assert.equal(isSoftware(said({ isFallbackAdapter: false, vendor: "65541" })), false);
  assert.equal(isSoftware(said({ vendor: "65541", description: "some new Mesa driver" })), true);
  assert.equal(isSoftware(said({ vendor: "4318", description: "NVIDIA H200" })), false);
  assert.equal(isSoftware(said({ vendor: "google", architecture: "swiftshader" })), true);
});

Deno.test("an adapter that says nothing is described as saying nothing", () => {
  const line = describeProfile({
    ...gpu().profile,
    software: true,
    info: said({}),
  });
  assert.match(line, /^vendor not reported, the adapter describes itself with empty strings, /);
  assert.match(line, /strings, software, /);
});

async function runScratch(code: string, env: Record<string, string> = {}): Promise<string> {
  const dir = ".cache/test";
  await Deno.mkdir(dir, { recursive: true });
  const file = `${dir}/start_${crypto.randomUUID()}.ts`;
  await Deno.writeTextFile(
    file,
    code.replaceAll("MOD", new URL("../mod.ts", import.meta.url).href),
  );
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read=.", "--allow-env", file],
      env,
      stdout: "piped",
      stderr: "piped",
    }).output();
    return new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  } finally {
    await Deno.remove(file);
  }
}

Deno.test("importing the library starts nothing; the first op says to call init()", async () => {
  const out = await runScratch(`import { Tensor } from "MOD";
console.log("imported");
try { Tensor.from([1, 2], [2]); } catch (e) { console.log("op: " + e.message); }`);
  assert.match(out, /^imported\n/);
  assert.match(out, /op: Tessera has not started: call `await init\(\)` before the first/);
});

Deno.test(
  "with no adapter, init() and then the first op give the one line naming the driver",
  async () => {
    // wgpu offers no adapter for a backend this platform lacks.
    const out = await runScratch(
      `import { init, Tensor } from "MOD";
try { await init(); console.log("started"); } catch (e) { console.log("init: " + e.message); }
try { Tensor.from([1, 2], [2]); } catch (e) { console.log("op: " + e.message); }`,
      { DENO_WEBGPU_BACKEND: "dx12" },
    );
    const line = new RegExp(
      "no WebGPU adapter found\\. On Linux without a GPU install Mesa's software Vulkan " +
        "driver: `apt-get install mesa-vulkan-drivers`",
    );
    assert.match(out, new RegExp("init: " + line.source));
    assert.match(out, new RegExp("op: " + line.source));
    assert.equal(out.trim().split("\n").length, 2, out);
  },
);
