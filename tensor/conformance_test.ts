import assert from "node:assert/strict";
import { gpu } from "./device.ts";
import { init, startupChecks } from "./runtime.ts";
import type { MatmulCall } from "./core/backend.ts";
import { checkBackend, chooseBackend, WrongResultsError } from "./conformance.ts";
import { SoftwareBackend } from "./backend/software/software.ts";
import { GpuBackend } from "./backend/gpu/gpu.ts";
import { matmulVariantFor } from "./core/tuning.ts";

await init();

/** A software backend whose every product comes out scaled by 1.5: a wrong kernel. */
class WrongProducts extends SoftwareBackend {
  override matmul(call: MatmulCall): void {
    super.matmul({ ...call, alpha: call.alpha * 1.5 });
  }
}

/** A software backend whose texture products are wrong: kernels the start-up check leaves out. */
class WrongTextures extends SoftwareBackend {
  override matmul(call: MatmulCall): void {
    const texture = matmulVariantFor(call.shape).family.startsWith("texture");
    super.matmul(texture ? { ...call, alpha: call.alpha * 1.5 } : call);
  }
}

/** Runs `fn` with backends installed by it, then puts the runtime's own back. */
async function withOwnBackendRestored<T>(fn: () => Promise<T>): Promise<T> {
  const own = gpu().backend;
  try {
    return await fn();
  } finally {
    gpu().useBackend(own);
  }
}

Deno.test("the runtime started on a backend whose every kernel family passed the check", () => {
  const chosen = startupChecks().at(-1);
  assert.ok(chosen, "no start-up report");
  assert.ok(chosen.families.length >= 10, "too few families checked");
  for (const f of chosen.families) assert.ok(f.ok, `${f.family}: scaled error ${f.error}`);
  for (const family of ["softmax", "layer norm", "maps", "reductions", "strided copies"]) {
    assert.ok(chosen.families.some((f) => f.family.startsWith(family)), `${family} not checked`);
  }
  // The backend's named products: on a software adapter the texture family's small tile and
  // the plainest storage tile; the others are checked on first use (first_use_test.ts).
  const named = gpu().backend.matmulChecks.map((c) => c.name);
  assert.ok(named.length > 0);
  for (const name of named) assert.ok(chosen.families.some((f) => f.family === name), name);
});

Deno.test(
  "the check catches a wrong texture matmul and falls back to storage operands",
  async () => {
    const { profile } = gpu();
    await withOwnBackendRestored(async () => {
      const wrong = new WrongTextures(profile);
      const plain = new SoftwareBackend(profile, { textures: false });
      const { backend, reports } = await chooseBackend([wrong, plain]);
      assert.equal(backend, plain);
      // The texture family's small tile, in the layout small products take it for; the other
      // texture tiles are checked on first use (first_use_test.ts).
      const failed = reports[0].families.filter((f) => !f.ok).map((f) => f.family);
      assert.deepEqual(failed, ["matmul texture 8x16"]);
      assert.ok(reports[1].families.every((f) => f.ok));
      assert.ok(reports[1].families.some((f) => f.family === "matmul register 8x16"));
    });
  },
);

Deno.test("with no backend that computes right, start-up refuses with one line", async () => {
  const { profile } = gpu();
  await withOwnBackendRestored(async () => {
    const error = await chooseBackend([new WrongProducts(profile)]).then(
      () => null,
      (e) => e,
    );
    assert.ok(error instanceof WrongResultsError);
    assert.ok(!error.message.includes("\n"));
    assert.match(error.message, /computes wrong results \(vendor .*; failed: matmul texture 8x16/);
    assert.match(error.message, /apt-get install mesa-vulkan-drivers/);
  });
});

/** Set by tests/gl_test.ts's run on wgpu's GL backend, where the sweep takes minutes. */
const glRun = Deno.permissions.querySync({ name: "env", variable: "TESSERA_GL_RUN" }).state ===
    "granted" && Deno.env.get("TESSERA_GL_RUN") === "1";

Deno.test({
  name:
    "checkBackend() with production tiles runs each family's largest and smallest tile across " +
    "several blocks",
  ignore: glRun,
  async fn() {
    const { profile } = gpu();
    for (const be of [new SoftwareBackend(profile), new GpuBackend(profile)]) {
      await withOwnBackendRestored(async () => {
        gpu().useBackend(be);
        const report = await gpu().run(() => checkBackend(be, true));
        const checked = report.families.map((f) => f.family);
        // The largest and smallest tile of each family the backend chooses or times.
        const want = be.name === "gpu"
          ? ["tiled 4x4", "tiled 8x8", "tiled 4x8", "tiled 8x4", "vec4 16x32", "register 16x32"]
          : [
            "texture 32x32",
            "texturetn 32x32",
            "texturenn 32x32",
            "texture 8x16",
            "texturetn 8x16",
            "texturenn 8x16",
            "vec4 16x32",
            "vec4 16x16",
            "vec4tn 16x32",
            "vec4tn 8x16",
            "register 16x32",
            "register 8x16",
          ];
        for (const v of want) assert.ok(checked.includes(`matmul ${v}`), `${be.name}: ${v}`);
        for (const f of report.families) assert.ok(f.ok, `${be.name} ${f.family}: ${f.error}`);
      });
    }
  },
});
