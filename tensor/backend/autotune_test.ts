import assert from "node:assert/strict";
import { autotuneMatmul } from "./autotune.ts";
import { gpu } from "../core/context.ts";
import { matmulVariantFor } from "../core/tuning.ts";
import { GpuBackend } from "./gpu/gpu.ts";
import type { MatmulShape } from "../../kernels/matmul.ts";
import { init } from "../runtime.ts";

await init();

/**
 * A batched product crossing several tiles of every family, with partial tiles on each edge
 * (one shape: each candidate compiles its kernel, seconds apiece on a CPU adapter).
 */
const SHAPES: MatmulShape[] = [{ batch: 2, m: 70, k: 68, n: 70, transA: false, transB: false }];

async function tuneAll(): Promise<void> {
  for (const s of SHAPES) {
    const { best, results } = await autotuneMatmul(s, 1);
    assert.ok(results.length >= 2, "too few candidates");
    // Every candidate the autotuner may pick computes the product right (f64, 1e-4 + 1e-3·|y|).
    for (const r of results) assert.ok(r.error <= 1, `${r.name}: error ${r.error} tolerances`);
    const fastest = results.reduce((x, y) => (y.gflops > x.gflops ? y : x));
    assert.equal(best, fastest.variant);
    assert.equal(matmulVariantFor(s), best, "the winner is not the cached choice");
  }
}

Deno.test("autotuneMatmul() checks every candidate against f64 and caches the fastest", async () => {
  await tuneAll();
});

Deno.test("the same on the GPU backend forced onto this adapter (the tiled candidates)", async () => {
  const own = gpu().backend;
  gpu().useBackend(new GpuBackend(gpu().profile));
  try {
    await tuneAll();
  } finally {
    gpu().useBackend(own);
  }
});
