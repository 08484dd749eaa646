/**
 * The same golden tests on wgpu's GL backend (Mesa's llvmpipe through EGL), where WebGPU lands
 * when no Vulkan driver is installed: the start-up check, the op fixtures and the ViT's logits,
 * loss and gradients must hold there too. GL compiles shaders slowly, so only these run. They
 * are ignored only where a part of Mesa's EGL driver is missing (`tests/_gl_driver.ts`, checked
 * on the files); where it is installed, an init() that fails on GL fails the run.
 *
 * @module
 */

import assert from "node:assert/strict";
import { missingGlDriver } from "./_gl_driver.ts";

const GL = { DENO_WEBGPU_BACKEND: "gl", NO_COLOR: "1" };

interface GlProbe {
  /** Parts of Mesa's EGL driver that are missing (empty: GL must work here). */
  missing: string[];
  /** The GL adapter's profile and whether textures survived the start-up check. */
  profile?: { singleLayerTextures: boolean; textures: boolean };
  /** Why init() failed on GL. */
  error?: string;
}

/**
 * Checks for the driver and runs init() on GL in a child process (which may read /usr, where
 * the test task's permissions do not reach).
 */
async function probeGl(): Promise<GlProbe> {
  const code = `import { init } from "./mod.ts";
import { fileExists, missingGlDriver } from "./tests/_gl_driver.ts";
const missing = missingGlDriver(fileExists);
try {
  const rt = await init();
  const profile = { ...rt.profile, textures: rt.backend.textures };
  console.log(JSON.stringify({ missing, profile }));
}
catch (e) { console.log(JSON.stringify({ missing, error: e.message })); }`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", code],
    env: GL,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const line = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
  if (!line.startsWith("{")) {
    const stderr = new TextDecoder().decode(out.stderr).slice(-2000);
    // The check could not run at all: say so instead of skipping.
    return { missing: [], error: `the GL probe printed nothing (exit ${out.code}): ${stderr}` };
  }
  return JSON.parse(line);
}

const gl = await probeGl();
const glExpected = gl.missing.length === 0;
if (!glExpected) console.log(`GL tests ignored: missing ${gl.missing.join("; ")}`);

Deno.test("the GL tests are skipped exactly where a part of Mesa's EGL driver is missing", () => {
  const all = new Set([
    "/usr/lib/x86_64-linux-gnu/libEGL.so.1",
    "/usr/share/glvnd/egl_vendor.d/50_mesa.json",
    "/usr/lib64/dri/swrast_dri.so",
  ]);
  const without = (gone: string) => (p: string) => all.has(p) && p !== gone;
  if (Deno.build.os !== "linux") {
    assert.equal(missingGlDriver((p) => all.has(p)).length, 1);
    return;
  }
  assert.deepEqual(missingGlDriver((p) => all.has(p)), []);
  for (const gone of all) assert.equal(missingGlDriver(without(gone)).length, 1, gone);
  assert.equal(missingGlDriver(() => false).length, 3);
});

Deno.test({
  name: "where Mesa's EGL driver is installed, init() succeeds on the GL backend",
  ignore: !glExpected,
  fn() {
    assert.ok(gl.profile, `Mesa's EGL driver is installed but init() failed on GL: ${gl.error}`);
  },
});

Deno.test({
  name: "on wgpu's GL backend one-layer textures are found out and texture matmuls still pass",
  ignore: !glExpected,
  fn() {
    // The probe sees that GL makes one-layer textures plain 2-D ones, and with two-layer
    // textures the start-up check keeps texture operands instead of falling back.
    assert.equal(gl.profile?.singleLayerTextures, false);
    assert.equal(gl.profile?.textures, true);
  },
});

Deno.test({
  name: "on the GL backend the start-up check, the op fixtures and the golden ViT pass",
  ignore: !glExpected,
  async fn() {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "test",
        "--allow-read=.",
        "--allow-write=.cache/test",
        "--allow-run",
        "--allow-sys=hostname",
        // TESSERA_GL_RUN leaves out the production-tile sweep: minutes on GL's single-threaded
        // llvmpipe; the start-up check and the first-use checks of the tiles the goldens take,
        // which this run is for, cover the kernels at small tiles.
        "--allow-env=TESSERA_GL_RUN",
        "tensor/conformance_test.ts",
        "tests/golden_ops_test.ts",
        "models/vit/modeling_test.ts",
      ],
      env: { ...GL, TESSERA_GL_RUN: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    const summary = text.match(/^(ok|FAILED) \| (\d+) passed.*\| (\d+) failed/m);
    // Mesa's GL driver under wgpu now and then aborts in exit-time teardown (glibc's heap check,
    // SIGABRT) after every test has passed and the summary is out; that alone is not a failure.
    const abortedAfterPassing = out.signal === "SIGABRT" && summary?.[1] === "ok";
    if (abortedAfterPassing) console.log("the GL run passed, then aborted in driver teardown");
    assert.ok(
      (out.success || abortedAfterPassing) && summary,
      `GL run failed:\n${text.slice(-3000)}`,
    );
    assert.equal(summary[3], "0");
    assert.ok(Number(summary[2]) >= 10, `only ${summary[2]} tests ran on GL`);
  },
});
