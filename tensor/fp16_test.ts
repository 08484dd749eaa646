import assert from "node:assert/strict";
import { gpu } from "./device.ts";
import { matmul } from "./ops.ts";
import { scope, Tensor } from "./tensor.ts";
import { fromF16Bits, toF16Bits } from "./f16.ts";
import { refMatmul } from "./reference.ts";
import { REGISTER_VARIANTS, TILED_VARIANTS, VEC4_VARIANTS } from "../kernels/matmul.ts";
import { forceMatmulVariant } from "./ops_matmul.ts";
import { assertClose, rng, uniform } from "./_test_util.ts";

const roundF16 = (a: Float32Array) => fromF16Bits(toF16Bits(a));

Deno.test("half-precision matmuls round inputs to f16 and accumulate in f32, in every variant", async (t) => {
  if (!gpu().hasF16) return;
  const random = rng(21);
  const a = uniform(random, 37 * 24, -3, 3);
  const b = uniform(random, 29 * 24, -3, 3);
  const exact = refMatmul(
    { data: Float64Array.from(a), shape: [37, 24] },
    {
      data: Float64Array.from(b),
      shape: [29, 24],
    },
    false,
    true,
  );
  const rounded = refMatmul(
    { data: Float64Array.from(roundF16(a)), shape: [37, 24] },
    {
      data: Float64Array.from(roundF16(b)),
      shape: [29, 24],
    },
    false,
    true,
  );
  for (const v of [REGISTER_VARIANTS[2], VEC4_VARIANTS[1], TILED_VARIANTS[0]]) {
    await t.step(`${v.family} ${v.tm}x${v.tn}`, async () => {
      forceMatmulVariant(v);
      try {
        const out = scope(() =>
          matmul(Tensor.from(a, [37, 24]), Tensor.from(b, [29, 24]), { transB: true, half: true })
        );
        const got = await out.toArray();
        // Against f16-rounded inputs the only error left is f32 accumulation.
        assertClose(got, rounded.data, { atol: 1e-4, rtol: 1e-5 }, "vs f16-rounded reference");
        // Against exact inputs the error is f16's: ~2^-11 of each product, summed over K = 24.
        assertClose(got, exact.data, { atol: 0.05, rtol: 1e-2 }, "vs f32 reference");
        let differs = false;
        got.forEach((v, i) => (differs ||= Math.abs(v - exact.data[i]) > 1e-5));
        assert.ok(differs, "the f16 path really rounds");
        out.dispose();
      } finally {
        forceMatmulVariant(null);
      }
    });
  }
});

Deno.test("an f16 input beyond 65504 becomes infinite, so loss-scale overflow is detected", async () => {
  if (!gpu().hasF16) return;
  const out = scope(() =>
    matmul(Tensor.from([1e5, 1], [1, 2]), Tensor.from([1, 1], [2, 1]), { half: true })
  );
  assert.equal((await out.toArray())[0], Infinity);
});
