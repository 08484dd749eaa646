import assert from "node:assert/strict";
import { TorchPickleError, unpickleTorch } from "./torch_pickle.ts";

/** A pickle from opcodes and operands (strings as BINUNICODE; GLOBALs from {@link g}). */
function pickle(...parts: (number | string | number[])[]): Uint8Array {
  const out: number[] = [0x80, 2];
  const enc = new TextEncoder();
  for (const p of parts) {
    if (typeof p === "number") out.push(p);
    else if (Array.isArray(p)) out.push(...p);
    else {
      const b = enc.encode(p);
      out.push(0x58, b.length, 0, 0, 0, ...b);
    }
  }
  out.push(0x2e);
  return new Uint8Array(out);
}

/** A GLOBAL opcode for `module.name`. */
function g(module: string, name: string): number[] {
  return [...new TextEncoder().encode(`c${module}\n${name}\n`)];
}

const MARK = 0x28, TUPLE = 0x74, REDUCE = 0x52, EMPTY_TUPLE = 0x29, EMPTY_DICT = 0x7d;
const SETITEM = 0x73, BINPERSID = 0x51, BININT1 = 0x4b;

Deno.test("unpickleTorch() reads dicts, tuples, lists, ints, floats, bools and None", () => {
  const value = unpickleTorch(
    pickle(
      EMPTY_DICT,
      "a",
      MARK,
      [BININT1, 7],
      [0x4a, 0xfe, 0xff, 0xff, 0xff], // BININT -2
      [0x4d, 0x34, 0x12], // BININT2 0x1234
      [0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1], // LONG1 2^64
      [0x8a, 1, 0xff], // LONG1 -1
      [0x47, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0], // BINFLOAT 1.5
      0x88,
      0x89,
      0x4e,
      TUPLE,
      SETITEM,
      "b",
      0x5d, // EMPTY_LIST
      [0x71, 3], // BINPUT 3
      [BININT1, 1],
      0x61, // APPEND
      [0x68, 3], // BINGET 3: the same list again
      0x86, // TUPLE2
      SETITEM,
    ),
    "x.pkl",
  ) as Map<string, unknown>;
  assert.deepEqual(value.get("a"), [7, -2, 0x1234, 2n ** 64n, -1, 1.5, true, false, null]);
  const [list, again] = value.get("b") as unknown[][];
  assert.deepEqual(list, [1]);
  assert.equal(list, again, "memo gives the same object back");
});

Deno.test("unpickleTorch() rebuilds a tensor from a storage persistent id", () => {
  const value = unpickleTorch(
    pickle(
      g("collections", "OrderedDict"),
      EMPTY_TUPLE,
      REDUCE,
      "w",
      g("torch._utils", "_rebuild_tensor_v2"),
      MARK,
      MARK,
      "storage",
      g("torch", "HalfStorage"),
      "0",
      "cpu",
      [BININT1, 6],
      TUPLE,
      BINPERSID,
      [BININT1, 1], // offset
      [BININT1, 2],
      [BININT1, 2],
      0x86, // size (2, 2)
      [BININT1, 1],
      [BININT1, 2],
      0x86, // stride (1, 2)
      0x89,
      g("collections", "OrderedDict"),
      EMPTY_TUPLE,
      REDUCE,
      TUPLE,
      REDUCE,
      SETITEM,
    ),
    "x.pkl",
  ) as Map<string, unknown>;
  assert.deepEqual(value.get("w"), {
    storage: { dtype: "F16", key: "0", location: "cpu", numel: 6 },
    offset: 1,
    shape: [2, 2],
    stride: [1, 2],
  });
});

const refusals: [string, Uint8Array, RegExp][] = [
  [
    "an unlisted global",
    pickle(g("numpy.core.multiarray", "_reconstruct")),
    /^x\.pkl: Unsupported global: GLOBAL numpy\.core\.multiarray\._reconstruct is refused/,
  ],
  [
    "a storage class called as a function",
    pickle(g("torch", "FloatStorage"), EMPTY_TUPLE, REDUCE),
    /Unsupported call: torch\.FloatStorage is only allowed as a storage type/,
  ],
  ["REDUCE of a non-global", pickle(EMPTY_DICT, EMPTY_TUPLE, REDUCE), /REDUCE calls something/],
  ["APPEND to a tuple", pickle(EMPTY_TUPLE, [BININT1, 1], 0x61), /APPEND to something not a list/],
  ["BUILD of a plain dict", pickle(EMPTY_DICT, EMPTY_DICT, 0x62), /BUILD of something other/],
  [
    "a persistent id that is not a storage",
    pickle(MARK, "module", TUPLE, BINPERSID),
    /Unsupported persistent id 'module': only storages are read/,
  ],
  [
    "a storage id with an unlisted storage class",
    pickle(MARK, "storage", g("torch", "ComplexFloatStorage"), TUPLE, BINPERSID),
    /GLOBAL torch\.ComplexFloatStorage is refused/,
  ],
  [
    "a storage key that is a path",
    pickle(
      MARK,
      "storage",
      g("torch", "FloatStorage"),
      "../x",
      "cpu",
      [BININT1, 1],
      TUPLE,
      BINPERSID,
    ),
    /malformed key/,
  ],
  [
    "a negative tensor stride",
    pickle(
      g("torch._utils", "_rebuild_tensor_v2"),
      MARK,
      MARK,
      "storage",
      g("torch", "FloatStorage"),
      "0",
      "cpu",
      [BININT1, 4],
      TUPLE,
      BINPERSID,
      [BININT1, 0],
      [BININT1, 2],
      0x85,
      [0x4a, 0xff, 0xff, 0xff, 0xff],
      0x85,
      0x89,
      EMPTY_DICT,
      TUPLE,
      REDUCE,
    ),
    /_rebuild_tensor_v2 with a malformed offset, size or stride/,
  ],
  ["INST, which runs a class", pickle([0x69]), /Unsupported operand 105 \(INST\)/],
  ["a memo read before it is set", pickle([0x68, 9]), /reads memo 9, which was never set/],
  ["a truncated string", new Uint8Array([0x80, 2, 0x58, 9, 0, 0, 0, 0x61]), /truncated at byte 7/],
  ["no STOP", new Uint8Array([0x80, 2, 0x4e]), /truncated at byte 3/],
];

for (const [what, bytes, message] of refusals) {
  Deno.test(`unpickleTorch() refuses ${what} in one line naming the file`, () => {
    assert.throws(() => unpickleTorch(bytes, "x.pkl"), (e: Error) => {
      assert.ok(e instanceof TorchPickleError, String(e));
      assert.match(e.message, message);
      assert.ok(e.message.startsWith("x.pkl: ") && !e.message.includes("\n"), e.message);
      return true;
    });
  });
}
