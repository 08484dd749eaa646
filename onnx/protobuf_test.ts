/** The protobuf writer against bytes from the protobuf encoding spec and python's protobuf. */
import assert from "node:assert/strict";
import { encodeVarint, ProtoWriter } from "./protobuf.ts";

Deno.test("encodeVarint() writes base-128 groups, low first, negatives in ten bytes", () => {
  assert.deepEqual([...encodeVarint(0)], [0]);
  assert.deepEqual([...encodeVarint(1)], [1]);
  assert.deepEqual([...encodeVarint(150)], [0x96, 0x01]);
  assert.deepEqual([...encodeVarint(300)], [0xac, 0x02]);
  assert.deepEqual([...encodeVarint(2 ** 32)], [0x80, 0x80, 0x80, 0x80, 0x10]);
  assert.deepEqual([...encodeVarint(-1)], [255, 255, 255, 255, 255, 255, 255, 255, 255, 1]);
  assert.deepEqual([...encodeVarint(-2n)], [254, 255, 255, 255, 255, 255, 255, 255, 255, 1]);
  assert.throws(() => encodeVarint(0.5), /not a safe integer/);
  assert.throws(() => encodeVarint(1n << 64n), /outside 64 bits/);
});

Deno.test("ProtoWriter writes tags, lengths, floats and nested messages", () => {
  // The spec's example: message Test1 { int32 a = 1; } with a = 150.
  assert.deepEqual([...new ProtoWriter().varint(1, 150).finish()], [0x08, 0x96, 0x01]);
  // Test2 { string b = 2; } with b = "testing".
  assert.deepEqual(
    [...new ProtoWriter().string(2, "testing").finish()],
    [0x12, 0x07, 0x74, 0x65, 0x73, 0x74, 0x69, 0x6e, 0x67],
  );
  // Test3 { Test1 c = 3; } with c.a = 150.
  const inner = new ProtoWriter().varint(1, 150);
  assert.deepEqual([...new ProtoWriter().message(3, inner).finish()], [0x1a, 0x03, 0x08, 0x96, 1]);
  // float f = 2 with 1.0: tag (2 << 3) | 5, then little-endian 0x3f800000.
  assert.deepEqual([...new ProtoWriter().float(2, 1).finish()], [0x15, 0, 0, 0x80, 0x3f]);
  // repeated int32 d = 4 [packed] with 3, 270, 86942.
  assert.deepEqual(
    [...new ProtoWriter().packedVarints(4, [3, 270, 86942]).finish()],
    [0x22, 0x06, 0x03, 0x8e, 0x02, 0x9e, 0xa7, 0x05],
  );
});

Deno.test("ProtoWriter keeps large fields as parts and copies them once, in order", () => {
  const big = new Uint8Array(200).map((_, i) => i);
  const w = new ProtoWriter().varint(1, 7).bytes(9, big);
  assert.equal(w.length, 2 + 1 + 2 + 200);
  const out = w.finish();
  assert.deepEqual([...out.subarray(0, 5)], [0x08, 0x07, 0x4a, 0xc8, 0x01]);
  assert.deepEqual(out.subarray(5), big);
});
