import assert from "node:assert/strict";
import { gpu } from "../device.ts";
import { matmul } from "../ops.ts";
import { scope, Tensor } from "../core/tensor.ts";
import { fromF16Bits, toF16Bits } from "../core/f16.ts";
import { refMatmul } from "../reference.ts";
import {
  REGISTER_VARIANTS,
  smallTile,
  TEXTURE_VARIANTS,
  TEXTURENN_VARIANTS,
  TEXTURETN_VARIANTS,
  TILED_VARIANTS,
  VEC4_VARIANTS,
  VEC4TN_VARIANTS,
} from "../../kernels/matmul.ts";
import { forceF16Emulation, forceMatmulVariant } from "../core/tuning.ts";
import { assertClose, rng, uniform } from "../_test_util.ts";
import { init } from "../runtime.ts";

await init();

const roundF16 = (a: Float32Array) => fromF16Bits(toF16Bits(a));

Deno.test("half-precision matmuls round inputs to f16 and accumulate in f32, in every variant", {
  ignore: !gpu().profile.f16,
}, async (t) => {
  const random = rng(21);
  const a = uniform(random, 37 * 24, -3, 3);
  const b = uniform(random, 28 * 24, -3, 3);
  const exact = refMatmul(
    { data: Float64Array.from(a), shape: [37, 24] },
    {
      data: Float64Array.from(b),
      shape: [28, 24],
    },
    false,
    true,
  );
  const rounded = refMatmul(
    { data: Float64Array.from(roundF16(a)), shape: [37, 24] },
    {
      data: Float64Array.from(roundF16(b)),
      shape: [28, 24],
    },
    false,
    true,
  );
  // The same product in the TN layout that vec4tn and texturetn read (A as [K, M], B as [K, N]).
  const bT = new Float32Array(24 * 28);
  for (let n = 0; n < 28; n++) for (let k = 0; k < 24; k++) bT[k * 28 + n] = b[n * 24 + k];
  const aRows = 36; // vec4tn needs M % 4 == 0: it checks the first 36 rows
  const aT = new Float32Array(24 * aRows);
  for (let m = 0; m < aRows; m++) for (let k = 0; k < 24; k++) aT[k * aRows + m] = a[m * 24 + k];
  const variants = [
    REGISTER_VARIANTS[2],
    VEC4_VARIANTS[1],
    VEC4TN_VARIANTS[2],
    TEXTURE_VARIANTS[1],
    smallTile(TEXTURETN_VARIANTS),
    TEXTURENN_VARIANTS[1],
    TILED_VARIANTS[0],
  ];
  // null: the shader's f16 conversion where this device's probe trusts it, else the emulation;
  // true: the emulation everywhere, so that both paths are checked on an IEEE adapter.
  for (const emulate of [null, true]) {
    for (const v of variants) {
      await t.step(
        `${v.family} ${v.tm}x${v.tn}${emulate ? ", emulated rounding" : ""}`,
        async () => {
          forceMatmulVariant(v);
          forceF16Emulation(emulate);
          try {
            const run = () =>
              v.family === "vec4tn" || v.family === "texturetn"
                ? matmul(Tensor.from(aT, [24, aRows]), Tensor.from(bT, [24, 28]), {
                  transA: true,
                  half: true,
                })
                : v.family === "texturenn"
                ? matmul(Tensor.from(a, [37, 24]), Tensor.from(bT, [24, 28]), { half: true })
                : matmul(Tensor.from(a, [37, 24]), Tensor.from(b, [28, 24]), {
                  transB: true,
                  half: true,
                });
            const out = scope(run);
            const got = await out.toArray();
            const rows = (d: Float64Array) => d.subarray(0, got.length);
            // Against f16-rounded inputs the only error left is f32 accumulation.
            assertClose(
              got,
              rows(rounded.data),
              { atol: 1e-4, rtol: 1e-5 },
              "vs f16-rounded reference",
            );
            // Against exact inputs the error is f16's: ~2^-11 of each product, summed over K = 24.
            assertClose(got, rows(exact.data), { atol: 0.05, rtol: 1e-2 }, "vs f32 reference");
            let differs = false;
            got.forEach((v, i) => (differs ||= Math.abs(v - exact.data[i]) > 1e-5));
            assert.ok(differs, "the f16 path really rounds");
            out.dispose();
          } finally {
            forceMatmulVariant(null);
            forceF16Emulation(null);
          }
        },
      );
    }
  }
});

Deno.test("an f16 input beyond 65504 becomes infinite, so loss-scale overflow is detected", {
  ignore: !gpu().profile.f16,
}, async () => {
  for (const emulate of [null, true]) {
    forceF16Emulation(emulate);
    try {
      const out = scope(() =>
        matmul(Tensor.from([1e5, 1, -7e4, 65519], [2, 2]), Tensor.from([1, 1], [2, 1]), {
          half: true,
        })
      );
      assert.deepEqual([...await out.toArray()], [Infinity, -Infinity], `emulate ${emulate}`);
      const edge = scope(() =>
        matmul(Tensor.from([65519, 0, 3 * 2 ** -25, 0], [2, 2]), Tensor.from([1, 1], [2, 1]), {
          half: true,
        })
      );
      // 65519 rounds to 65504, under the overflow; 3·2^-25 is a subnormal tie: up to 2^-23.
      assert.deepEqual([...await edge.toArray()], [65504, 2 ** -23], `emulate ${emulate}`);
      out.dispose();
      edge.dispose();
    } finally {
      forceF16Emulation(null);
    }
  }
});

Deno.test(
  "half matmuls that round their operands up front equal rounding every load, bit for bit",
  { ignore: !gpu().profile.f16 || !gpu().profile.software || !gpu().profile.f16RoundsToNearest },
  async () => {
    const random = rng(33);
    // NN large enough to run as NT on a transposed copy, NT, and TN.
    const cases = [
      { a: [96, 40], b: [40, 72], transA: false, transB: false },
      { a: [37, 24], b: [28, 24], transA: false, transB: true },
      { a: [24, 36], b: [24, 28], transA: true, transB: false },
    ];
    for (const c of cases) {
      const a = uniform(random, c.a[0] * c.a[1], -300, 300);
      const b = uniform(random, c.b[0] * c.b[1], -3, 3);
      const run = () =>
        scope(() =>
          matmul(Tensor.from(a, c.a), Tensor.from(b, c.b), {
            transA: c.transA,
            transB: c.transB,
            half: true,
          })
        );
      const upFront = run();
      forceF16Emulation(false); // the kernel rounds every load through the shader's f16()
      const perLoad = run();
      forceF16Emulation(null);
      assert.deepEqual(await upFront.toArray(), await perLoad.toArray(), JSON.stringify(c));
      upFront.dispose();
      perLoad.dispose();
    }
  },
);

Deno.test("half-precision Linear gradients stay within f16 rounding of the f32 gradients", {
  ignore: !gpu().profile.f16,
}, async () => {
  // y = x Wᵀ + b on [rows, k] · [n, k]: dx = g W, dW = gᵀ x, db = Σ g. Each f16 product term
  // carries two roundings of 2^-11 at most, so |half - f32| <= 2.2 · 2^-11 · Σ|terms| per element.
  const [rows, k, n] = [45, 40, 24];
  const random = rng(17);
  const x = uniform(random, rows * k, -2, 2);
  const w = uniform(random, n * k);
  const b = uniform(random, n);
  const g = uniform(random, rows * n);
  const grads = async (half: boolean) => {
    const inputs = [
      Tensor.from(x, [rows, k], { requiresGrad: true }),
      Tensor.from(w, [n, k], { requiresGrad: true }),
      Tensor.from(b, [n], { requiresGrad: true }),
    ];
    scope(() =>
      matmul(inputs[0], inputs[1], { transB: true, bias: inputs[2], half }).backward(
        Tensor.from(g, [rows, n]),
      )
    );
    const out = await Promise.all(inputs.map((t) => t.grad!.toArray()));
    for (const t of inputs) {
      t.grad!.dispose();
      t.dispose();
    }
    return out;
  };
  const [full, half] = [await grads(false), await grads(true)];
  const u = 2.2 * 2 ** -11;
  const bound = [
    (i: number) => { // dx[r, c] = Σ_j g[r, j] w[j, c]
      const [r, c] = [Math.floor(i / k), i % k];
      let s = 0;
      for (let j = 0; j < n; j++) s += Math.abs(g[r * n + j] * w[j * k + c]);
      return u * s + 1e-6;
    },
    (i: number) => { // dW[j, c] = Σ_r g[r, j] x[r, c]
      const [j, c] = [Math.floor(i / k), i % k];
      let s = 0;
      for (let r = 0; r < rows; r++) s += Math.abs(g[r * n + j] * x[r * k + c]);
      return u * s + 1e-6;
    },
    (j: number) => { // db[j] = Σ_r g[r, j]
      let s = 0;
      for (let r = 0; r < rows; r++) s += Math.abs(g[r * n + j]);
      return u * s + 1e-6;
    },
  ];
  for (const [which, name] of ["x", "weight", "bias"].entries()) {
    half[which].forEach((v, i) => {
      const diff = Math.abs(v - full[which][i]);
      assert.ok(diff <= bound[which](i), `${name} gradient [${i}]: ${v} vs f32 ${full[which][i]}`);
    });
  }
  // Tighter: the products of the f16-rounded operands, in f64, leave only f32 accumulation.
  const [g16, w16, x16] = [roundF16(g), roundF16(w), roundF16(x)];
  const dx = refMatmul({ data: Float64Array.from(g16), shape: [rows, n] }, {
    data: Float64Array.from(w16),
    shape: [n, k],
  });
  const dw = refMatmul(
    { data: Float64Array.from(g16), shape: [rows, n] },
    { data: Float64Array.from(x16), shape: [rows, k] },
    true,
  );
  const tight = { atol: 1e-5, rtol: 1e-5 };
  assertClose(half[0], dx.data, tight, "x gradient vs f16-rounded reference");
  assertClose(half[1], dw.data, tight, "weight gradient vs f16-rounded reference");
  const db = new Float64Array(n);
  for (let r = 0; r < rows; r++) for (let j = 0; j < n; j++) db[j] += g16[r * n + j];
  assertClose(half[2], db, tight, "bias gradient vs f16-rounded reference");
});
