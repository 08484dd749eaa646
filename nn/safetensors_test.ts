import assert from "node:assert/strict";
import { parseSafetensors, SafetensorsError, serializeSafetensors } from "./safetensors.ts";

function withHeader(header: unknown, dataBytes: number, lengthOverride?: bigint): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.byteLength + dataBytes);
  new DataView(out.buffer).setBigUint64(0, lengthOverride ?? BigInt(json.byteLength), true);
  out.set(json, 8);
  return out;
}

Deno.test("serializeSafetensors() round-trips F32 and F16 with pt metadata", () => {
  const data = new Float32Array([1, -2.5, 0.1, 65504]);
  const f32 = parseSafetensors(serializeSafetensors([["a.w", { shape: [2, 2], data }]]), "x");
  assert.deepEqual([...f32.tensors.get("a.w")!.data], [...data]);
  assert.deepEqual(f32.tensors.get("a.w")!.shape, [2, 2]);
  assert.equal(f32.metadata.format, "pt");
  const f16 = parseSafetensors(
    serializeSafetensors([["h", { shape: [4], data }]], { dtype: "F16" }),
    "x",
  );
  assert.equal(f16.tensors.get("h")!.dtype, "F16");
  assert.deepEqual([...f16.tensors.get("h")!.data], [1, -2.5, 0.0999755859375, 65504]);
});

Deno.test("parseSafetensors() reads BF16", () => {
  const bytes = withHeader({ b: { dtype: "BF16", shape: [2], data_offsets: [0, 4] } }, 4);
  const at = bytes.byteLength - 4;
  new DataView(bytes.buffer).setUint16(at, 0x3f80, true); // 1.0
  new DataView(bytes.buffer).setUint16(at + 2, 0xc040, true); // -3.0
  assert.deepEqual([...parseSafetensors(bytes, "b.safetensors").tensors.get("b")!.data], [1, -3]);
});

Deno.test("parseSafetensors() names the file and the problem for malformed input", () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ["a file shorter than the length field", new Uint8Array(5), /truncated/],
    [
      "a header length of 2^40",
      withHeader({}, 0, 2n ** 40n),
      /header length 1099511627776 exceeds/,
    ],
    [
      "a truncated file",
      serializeSafetensors([["w", { shape: [4], data: new Float32Array(4) }]])
        .subarray(0, 60),
      /exceeds|outside/,
    ],
    [
      "offsets past the end",
      withHeader({ w: { dtype: "F32", shape: [2], data_offsets: [0, 80] } }, 8),
      /data_offsets \[0, 80\] lie outside the 8 data bytes/,
    ],
    [
      "a shape and byte-count mismatch",
      withHeader({ w: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, 8),
      /F32 \[3\] needs 12 bytes, data_offsets give 8/,
    ],
    [
      "an unsupported dtype",
      withHeader({ w: { dtype: "I64", shape: [1], data_offsets: [0, 8] } }, 8),
      /unsupported dtype "I64"/,
    ],
    [
      "overlapping tensors",
      withHeader({
        a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
        b: { dtype: "F32", shape: [2], data_offsets: [4, 12] },
      }, 12),
      /overlap/,
    ],
    ["a header that is not JSON", withHeader("x", 0).map((b, i) => (i === 8 ? 0x7b : b)), /JSON/],
    [
      "a negative dimension",
      withHeader({ w: { dtype: "F32", shape: [-1], data_offsets: [0, 0] } }, 0),
      /shape \[-1\] is invalid/,
    ],
  ];
  for (const [what, bytes, pattern] of cases) {
    assert.throws(
      () => parseSafetensors(bytes, "model.safetensors"),
      (error: unknown) => {
        assert.ok(error instanceof SafetensorsError, `${what}: ${error}`);
        assert.match(error.message, /^model\.safetensors: /, what);
        assert.match(error.message, pattern, what);
        return true;
      },
      what,
    );
  }
});
