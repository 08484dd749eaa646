/**
 * A restricted unpickler for the `data.pkl` that `torch.save` writes for a state dict. It runs no
 * code: it reads pickle opcodes into plain values and knows a fixed set of globals, each of which
 * it rebuilds itself (an OrderedDict becomes a Map, a tensor a {@link TorchTensorRef}). Anything
 * else is refused with one line naming the global or opcode, as `torch.load(weights_only=True)`
 * refuses it.
 *
 * The opcodes are those of torch 1.13's `torch/_weights_only_unpickler.py` (plus BINFLOAT, which
 * torch 2.x added). The globals are fewer than that file allows: only what a state dict of dense
 * tensors needs (no torch.Size, dtypes, sparse, meta or quantized tensors).
 *
 * @module
 */

/** Element types of the storages Tessera reads, in safetensors' names. */
export type TorchDType =
  | "F64"
  | "F32"
  | "F16"
  | "BF16"
  | "I64"
  | "I32"
  | "I16"
  | "I8"
  | "U8"
  | "BOOL";

/** The `torch.*Storage` classes a state dict may name, with their element types. */
export const TORCH_STORAGE_TYPES: Readonly<Record<string, TorchDType>> = Object.freeze({
  "torch.DoubleStorage": "F64",
  "torch.FloatStorage": "F32",
  "torch.HalfStorage": "F16",
  "torch.BFloat16Storage": "BF16",
  "torch.LongStorage": "I64",
  "torch.IntStorage": "I32",
  "torch.ShortStorage": "I16",
  "torch.CharStorage": "I8",
  "torch.ByteStorage": "U8",
  "torch.BoolStorage": "BOOL",
});

/** Functions and classes the unpickler rebuilds (besides the storage classes). */
export const TORCH_PICKLE_GLOBALS: readonly string[] = Object.freeze([
  "collections.OrderedDict",
  "torch._utils._rebuild_tensor_v2",
  "torch._utils._rebuild_parameter",
  "torch._utils._rebuild_parameter_with_state",
]);

/** A storage named by a persistent id: `('storage', torch.FloatStorage, key, location, numel)`. */
export interface TorchStorageRef {
  /** Element type. */
  dtype: TorchDType;
  /** Its record in the archive: `data/<key>`. */
  key: string;
  /** Device it was saved from ("cpu", "cuda:0"); ignored. */
  location: string;
  /** Number of elements. */
  numel: number;
}

/** A tensor as `_rebuild_tensor_v2` describes it: a strided view of a storage. */
export interface TorchTensorRef {
  /** The storage it views (shared between views of one tensor). */
  storage: TorchStorageRef;
  /** First element, in elements. */
  offset: number;
  /** Dimensions. */
  shape: number[];
  /** Step of each dimension, in elements. */
  stride: number[];
}

/** A pickle that is malformed or asks for more than a state dict, naming the file. */
export class TorchPickleError extends Error {
  /**
   * Creates the error; its message is `file: problem`.
   *
   * @param file The checkpoint.
   * @param problem What is wrong.
   */
  constructor(readonly file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = "TorchPickleError";
  }
}

/** An allowed global, as GLOBAL pushes it. */
class _Global {
  constructor(readonly name: string) {}
}

/** Python's OrderedDict: a Map plus the attributes BUILD sets (a state dict's `_metadata`). */
class _OrderedDict extends Map<unknown, unknown> {
  attributes: Record<string, unknown> = {};
}

/** A marker for MARK on the stack. */
const _MARK = Symbol("mark");

const _REFUSAL = "only a state dict of tensors is read, as torch.load(weights_only=True) does";

/** Opcode names, for messages about opcodes that are refused. */
const _OPCODE_NAMES: Record<number, string> = {
  0x95: "FRAME",
  0x93: "STACK_GLOBAL",
  0x94: "MEMOIZE",
  0x8c: "SHORT_BINUNICODE",
  0x8d: "BINUNICODE8",
  0x42: "BINBYTES",
  0x43: "SHORT_BINBYTES",
  0x69: "INST",
  0x6f: "OBJ",
  0x92: "NEWOBJ_EX",
  0x82: "EXT1",
  0x52: "REDUCE",
  0x50: "PERSID",
  0x49: "INT",
  0x4c: "LONG",
  0x53: "STRING",
  0x56: "UNICODE",
  0x46: "FLOAT",
  0x64: "DICT",
  0x6c: "LIST",
  0x67: "GET",
  0x70: "PUT",
};

/**
 * Unpickles a `torch.save` data.pkl. Tensors come back as {@link TorchTensorRef}s (which storage,
 * which view), dicts and OrderedDicts as Maps, tuples and lists as arrays, Python ints as numbers
 * (bigint beyond 2^53).
 *
 * @param bytes The pickle.
 * @param file The checkpoint, for errors.
 * @returns The unpickled object (a Map of tensor refs for a state dict).
 * @throws {TorchPickleError} On a global, opcode or call outside the allowed set, or a malformed
 * pickle.
 * @example
 * ```ts
 * import { unpickleTorch } from "./torch_pickle.ts";
 * // pickle.dumps({"a": 1}, protocol=2)
 * const bytes = new Uint8Array([0x80, 2, 0x7d, 0x71, 0, 0x58, 1, 0, 0, 0, 0x61, 0x71, 1, 0x4b, 1,
 *   0x73, 0x2e]);
 * console.log(unpickleTorch(bytes, "x.pkl")); // Map(1) { "a" => 1 }
 * ```
 */
export function unpickleTorch(bytes: Uint8Array, file: string): unknown {
  const fail = (problem: string): never => {
    throw new TorchPickleError(file, problem);
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  let at = 0;
  const need = (n: number): number => {
    if (n < 0 || at + n > bytes.length) fail(`pickle is truncated at byte ${at}`);
    const start = at;
    at += n;
    return start;
  };
  const readLine = (): string => {
    const end = bytes.indexOf(0x0a, at);
    if (end < 0) fail(`pickle is truncated at byte ${at}`);
    const start = at;
    at = end + 1;
    try {
      return utf8.decode(bytes.subarray(start, end));
    } catch {
      return fail(`pickle has a name that is not UTF-8 at byte ${start}`);
    }
  };
  let stack: unknown[] = [];
  const marks: unknown[][] = [];
  const memo = new Map<number, unknown>();
  const pop = (): unknown => {
    if (stack.length === 0) fail(`pickle pops an empty stack at byte ${at - 1}`);
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) fail(`pickle reads an empty stack at byte ${at - 1}`);
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const items = stack;
    const outer = marks.pop();
    if (!outer) fail(`pickle has no MARK to pop at byte ${at - 1}`);
    stack = outer!;
    return items;
  };
  const setItem = (target: unknown, key: unknown, value: unknown) => {
    if (!(target instanceof Map)) fail("SETITEM on something other than a dict");
    (target as Map<unknown, unknown>).set(key, value);
  };
  const int = (value: number | bigint): number | bigint =>
    typeof value === "bigint" && value >= BigInt(Number.MIN_SAFE_INTEGER) &&
      value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value;

  for (;;) {
    const op = bytes[need(1)];
    switch (op) {
      case 0x80: // PROTO: its number is ignored, as torch's unpickler does; opcodes decide
        need(1);
        break;
      case 0x63: { // GLOBAL
        const name = `${readLine()}.${readLine()}`;
        if (!(name in TORCH_STORAGE_TYPES) && !TORCH_PICKLE_GLOBALS.includes(name)) {
          fail(`Unsupported global: GLOBAL ${name} is refused (${_REFUSAL})`);
        }
        stack.push(new _Global(name));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop();
        const fn = top();
        if (!(fn instanceof _Global)) fail("REDUCE calls something that is not an allowed global");
        if (!Array.isArray(args)) {
          fail(`REDUCE of ${(fn as _Global).name} without an argument tuple`);
        }
        stack[stack.length - 1] = _call((fn as _Global).name, args as unknown[], fail);
        break;
      }
      case 0x81: { // NEWOBJ: torch.save never makes one for a state dict
        pop();
        const cls = pop();
        fail(
          `Unsupported global: NEWOBJ of ${
            cls instanceof _Global ? cls.name : "an unknown class"
          } is refused (${_REFUSAL})`,
        );
        break;
      }
      case 0x62: { // BUILD
        const state = pop();
        const inst = top();
        if (!(inst instanceof _OrderedDict)) fail("BUILD of something other than an OrderedDict");
        if (!(state instanceof Map)) {
          fail("BUILD of an OrderedDict with a state that is not a dict");
        }
        for (const [k, v] of state as Map<unknown, unknown>) {
          (inst as _OrderedDict).attributes[String(k)] = v;
        }
        break;
      }
      case 0x61: { // APPEND
        const item = pop();
        const list = top();
        if (!Array.isArray(list) || Object.isFrozen(list)) fail("APPEND to something not a list");
        (list as unknown[]).push(item);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        const list = top();
        if (!Array.isArray(list) || Object.isFrozen(list)) fail("APPENDS to something not a list");
        (list as unknown[]).push(...items);
        break;
      }
      case 0x73: { // SETITEM
        const value = pop();
        const key = pop();
        setItem(top(), key, value);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        if (items.length % 2 !== 0) fail("SETITEMS with an odd number of items");
        const target = top();
        for (let i = 0; i < items.length; i += 2) setItem(target, items[i], items[i + 1]);
        break;
      }
      case 0x28: // MARK
        marks.push(stack);
        stack = [];
        break;
      case 0x74: { // TUPLE
        // popMark() replaces `stack`, so it must run before `stack.push` is looked up.
        const items = popMark();
        stack.push(Object.freeze(items));
        break;
      }
      case 0x85: // TUPLE1
        stack.push(Object.freeze([pop()]));
        break;
      case 0x86: { // TUPLE2
        const b = pop();
        stack.push(Object.freeze([pop(), b]));
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop();
        const b = pop();
        stack.push(Object.freeze([pop(), b, c]));
        break;
      }
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(Object.freeze([]));
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x8f: // EMPTY_SET
        stack.push(new Set());
        break;
      case 0x4a: // BININT
        stack.push(view.getInt32(need(4), true));
        break;
      case 0x4b: // BININT1
        stack.push(bytes[need(1)]);
        break;
      case 0x4d: // BININT2
        stack.push(view.getUint16(need(2), true));
        break;
      case 0x47: // BINFLOAT
        stack.push(view.getFloat64(need(8), false));
        break;
      case 0x8a: { // LONG1: little-endian two's complement
        const n = bytes[need(1)];
        const start = need(n);
        let value = 0n;
        for (let i = n - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[start + i]);
        if (n > 0 && bytes[start + n - 1] & 0x80) value -= 1n << BigInt(8 * n);
        stack.push(int(value));
        break;
      }
      case 0x58: { // BINUNICODE
        const n = view.getUint32(need(4), true);
        const start = need(n);
        try {
          stack.push(utf8.decode(bytes.subarray(start, start + n)));
        } catch {
          fail(`pickle has a string that is not UTF-8 at byte ${start}`);
        }
        break;
      }
      case 0x55: { // SHORT_BINSTRING (Python 2 str)
        const n = bytes[need(1)];
        const start = need(n);
        stack.push(String.fromCharCode(...bytes.subarray(start, start + n)));
        break;
      }
      case 0x51: { // BINPERSID
        stack.push(_storage(pop(), fail));
        break;
      }
      case 0x68: { // BINGET
        const i = bytes[need(1)];
        if (!memo.has(i)) fail(`pickle reads memo ${i}, which was never set`);
        stack.push(memo.get(i));
        break;
      }
      case 0x6a: { // LONG_BINGET
        const i = view.getUint32(need(4), true);
        if (!memo.has(i)) fail(`pickle reads memo ${i}, which was never set`);
        stack.push(memo.get(i));
        break;
      }
      case 0x71: // BINPUT
        memo.set(bytes[need(1)], top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(view.getUint32(need(4), true), top());
        break;
      case 0x2e: // STOP
        if (marks.length > 0) fail("pickle stops inside a MARK");
        return _plain(pop());
      default:
        fail(
          `Unsupported operand ${op} (${_OPCODE_NAMES[op] ?? `0x${op.toString(16)}`}) at byte ${
            at - 1
          } (${_REFUSAL})`,
        );
    }
  }
}

/** The result with OrderedDicts as plain Maps (their attributes dropped). */
function _plain(value: unknown): unknown {
  return value instanceof _OrderedDict ? new Map(value) : value;
}

function _isIndex(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

function _indexList(v: unknown): v is number[] {
  return Array.isArray(v) && v.every(_isIndex);
}

/** A persistent id: only `('storage', <storage class>, key, location, numel)`. */
function _storage(pid: unknown, fail: (problem: string) => never): TorchStorageRef {
  if (!Array.isArray(pid) || pid[0] !== "storage") {
    fail(
      `Unsupported persistent id ${
        Array.isArray(pid) ? `'${String(pid[0])}'` : typeof pid
      }: only storages are read`,
    );
  }
  const [, type, key, location, numel] = pid as unknown[];
  if (pid.length !== 5 || !(type instanceof _Global) || !(type.name in TORCH_STORAGE_TYPES)) {
    fail("persistent id of a storage without a storage class");
  }
  if (typeof key !== "string" || !/^[\w.-]+$/.test(key) || typeof location !== "string") {
    fail("persistent id of a storage with a malformed key or location");
  }
  if (!_isIndex(numel)) fail("persistent id of a storage with a malformed size");
  return {
    dtype: TORCH_STORAGE_TYPES[(type as _Global).name],
    key: key as string,
    location: location as string,
    numel: numel as number,
  };
}

/** What an allowed global returns for `args`. */
function _call(name: string, args: unknown[], fail: (problem: string) => never): unknown {
  switch (name) {
    case "collections.OrderedDict": {
      const out = new _OrderedDict();
      if (args.length === 0) return out;
      if (args.length === 1 && Array.isArray(args[0])) {
        for (const pair of args[0]) {
          if (!Array.isArray(pair) || pair.length !== 2) fail("OrderedDict of malformed items");
          out.set(pair[0], pair[1]);
        }
        return out;
      }
      return fail("OrderedDict called with unexpected arguments");
    }
    case "torch._utils._rebuild_tensor_v2": {
      // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
      const [storage, offset, shape, stride] = args;
      if (args.length < 6 || args.length > 7 || !_isStorage(storage)) {
        fail("_rebuild_tensor_v2 called with unexpected arguments");
      }
      if (!_isIndex(offset) || !_indexList(shape) || !_indexList(stride)) {
        fail("_rebuild_tensor_v2 with a malformed offset, size or stride");
      }
      if ((shape as number[]).length !== (stride as number[]).length) {
        fail("_rebuild_tensor_v2 with a size and stride of different lengths");
      }
      return {
        storage: storage as TorchStorageRef,
        offset: offset as number,
        shape: [...(shape as number[])],
        stride: [...(stride as number[])],
      } satisfies TorchTensorRef;
    }
    case "torch._utils._rebuild_parameter":
    case "torch._utils._rebuild_parameter_with_state": {
      // (data, requires_grad, backward_hooks[, state]): a Parameter is its tensor here.
      if (args.length < 3 || args.length > 4 || !isTorchTensorRef(args[0])) {
        fail(`${name.slice(13)} called with unexpected arguments`);
      }
      return args[0];
    }
    default:
      // A storage class itself is never called by torch.save's pickle.
      return fail(`Unsupported call: ${name} is only allowed as a storage type (${_REFUSAL})`);
  }
}

function _isStorage(v: unknown): v is TorchStorageRef {
  return typeof v === "object" && v !== null && "numel" in v && "key" in v && "dtype" in v;
}

/**
 * Whether a value is a tensor that {@link unpickleTorch} rebuilt.
 *
 * @param v Any unpickled value.
 * @returns True for a {@link TorchTensorRef}.
 */
export function isTorchTensorRef(v: unknown): v is TorchTensorRef {
  return typeof v === "object" && v !== null && "storage" in v && "stride" in v &&
    _isStorage((v as TorchTensorRef).storage);
}
