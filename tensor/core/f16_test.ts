import assert from "node:assert/strict";
import { f16BitsToF32, f32ToF16Bits, fromF16Bits, toF16Bits } from "./f16.ts";

const bits = new Uint32Array(1);
const float = new Float32Array(bits.buffer);

/** The f32 one ulp larger or smaller in magnitude than `x` (not zero). */
function f32Step(x: number, larger: boolean): number {
  float[0] = x;
  bits[0] += larger ? 1 : -1;
  return float[0];
}

Deno.test("every f16 value, subnormals and infinities included, survives a round trip", () => {
  for (let h = 0; h < 0x10000; h++) {
    const v = f16BitsToF32(h);
    if (Number.isNaN(v)) {
      assert.ok((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0, `NaN from ${h.toString(16)}`);
      assert.ok(Number.isNaN(f16BitsToF32(f32ToF16Bits(v))));
      continue;
    }
    assert.equal(f32ToF16Bits(v), h, `0x${h.toString(16)} = ${v}`);
  }
  assert.equal(f16BitsToF32(0x0001), 2 ** -24, "smallest subnormal");
  assert.equal(f16BitsToF32(0x03ff), 1023 * 2 ** -24, "largest subnormal");
  assert.equal(f16BitsToF32(0x7bff), 65504, "largest finite");
});

Deno.test("f32 to f16 rounds to nearest, ties to even, between every pair of neighbours", () => {
  for (const sign of [0, 0x8000]) {
    for (let h = 0; h < 0x7bff; h++) {
      const [a, b] = [f16BitsToF32(sign | h), f16BitsToF32(sign | (h + 1))];
      const mid = (a + b) / 2; // 12 significant bits: exact in f32
      const even = h % 2 === 0 ? h : h + 1;
      assert.equal(f32ToF16Bits(mid), sign | even, `tie between 0x${h.toString(16)} and next`);
      const [below, above] = [f32Step(mid, false), f32Step(mid, true)];
      assert.equal(f32ToF16Bits(below), sign | h, `just below the tie after 0x${h.toString(16)}`);
      assert.equal(
        f32ToF16Bits(above),
        sign | (h + 1),
        `just above the tie after 0x${h.toString(16)}`,
      );
    }
  }
});

Deno.test("f16 overflows to infinity at 65520 and underflows to zero below 2^-25", () => {
  assert.equal(f32ToF16Bits(65519.99), 0x7bff);
  assert.equal(f32ToF16Bits(65520), 0x7c00, "the tie above 65504 rounds to the even infinity");
  assert.equal(f32ToF16Bits(-1e6), 0xfc00);
  assert.equal(f32ToF16Bits(2 ** -25), 0, "the tie with the smallest subnormal rounds to zero");
  assert.equal(f32ToF16Bits(f32Step(2 ** -25, true)), 1);
  assert.equal(f32ToF16Bits(-(2 ** -26)), 0x8000, "signed zero");
  assert.equal(f32ToF16Bits(1e-45), 0, "an f32 subnormal");
  const values = Float32Array.from([0.1, -2.5, 3e-6, 70000]);
  assert.deepEqual(
    fromF16Bits(toF16Bits(values)),
    Float32Array.from([0.0999755859375, -2.5, 2.9802322387695312e-6, Infinity]),
  );
});
