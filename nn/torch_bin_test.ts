import assert from "node:assert/strict";
import { zipSync } from "fflate";
import { parseTorchBin, parseWeights, readTorchWeights, torchTensorToF32 } from "./torch_bin.ts";
import { TorchPickleError } from "./torch_pickle.ts";
import { parseSafetensors } from "./safetensors.ts";
import { ViTForImageClassification } from "../models/vit/modeling.ts";
import { scope, Tensor } from "../tensor/tensor.ts";
import { init } from "../tensor/runtime.ts";
import { assertClose } from "../tensor/_test_util.ts";
import { testTempDir } from "../io/_test_util.ts";

await init();

const DIR = new URL("../tests/fixtures/torch_bin/", import.meta.url);

interface Expected {
  dtype: string;
  shape: number[];
  values: number[];
  bits?: number[];
  contiguous: boolean;
  storage_offset: number;
  storage: number;
}

const EXPECTED = JSON.parse(await Deno.readTextFile(new URL("expected.json", DIR)));

async function read(name: string) {
  const url = new URL(name, DIR);
  return parseTorchBin(await Deno.readFile(url), url.pathname);
}

/** Every tensor of a fixture equals torch's values exactly, in torch's key order. */
async function checkFile(name: string): Promise<void> {
  const expected = EXPECTED[name] as Record<string, Expected>;
  const tensors = await read(name);
  assert.deepEqual([...tensors.keys()], Object.keys(expected), `${name} keys`);
  for (const [key, e] of Object.entries(expected)) {
    const t = tensors.get(key)!;
    assert.equal(t.dtype, e.dtype, `${name}:${key} dtype`);
    assert.deepEqual(t.shape, e.shape, `${name}:${key} shape`);
    if (e.bits) assert.deepEqual([...t.data as Uint16Array], e.bits, `${name}:${key} bits`);
    const values = t.dtype === "I64"
      ? [...t.data as BigInt64Array].map(Number)
      : t.dtype === "F16" || t.dtype === "BF16"
      ? [...torchTensorToF32(t)]
      : Array.from(t.data as ArrayLike<number>);
    assert.deepEqual(values, e.values, `${name}:${key} values`);
  }
}

Deno.test("parseTorchBin() reads torch's fp32, fp64, int64, int32 and bool tensors", async () => {
  await checkFile("f32.bin");
  const t = await read("f32.bin");
  assert.deepEqual(t.get("scalar")!.shape, []);
  assert.equal(t.get("empty")!.data.length, 0);
  assert.equal((t.get("long")!.data as BigInt64Array)[0], -(2n ** 40n));
});

Deno.test("parseTorchBin() keeps fp16 and bf16 bit patterns and widens them exactly", async () => {
  await checkFile("f16.bin");
  const half = (await read("f16.bin")).get("half_special")!;
  assert.deepEqual([...torchTensorToF32(half)].slice(0, 2), [65504, -65504]);
  assert.ok(Object.is(torchTensorToF32(half)[3], -0), "negative zero survives");
});

Deno.test("parseTorchBin() reads tensors sharing one storage, each at its own offset", async () => {
  await checkFile("shared.bin");
  const storages = new Set(
    Object.values(EXPECTED["shared.bin"] as Record<string, Expected>).map((e) => e.storage),
  );
  assert.equal(storages.size, 1, "the fixture's tensors do share one storage");
  const t = await read("shared.bin");
  t.get("base")!.data[0] = 1234;
  assert.notEqual(t.get("same")!.data[0], 1234, "each tensor gets its own copy");
});

Deno.test("parseTorchBin() materialises transposed, sliced, permuted, expanded views", async () => {
  const expected = EXPECTED["views.bin"] as Record<string, Expected>;
  assert.ok(Object.values(expected).every((e) => !e.contiguous), "all fixture views are strided");
  assert.ok(expected.sliced.storage_offset > 0);
  await checkFile("views.bin");
});

Deno.test("parseTorchBin() refuses a view that runs past its storage, in one line", async () => {
  await assert.rejects(
    () => read("bad_view.bin"),
    (e: Error) =>
      e instanceof TorchPickleError &&
      /bad_view\.bin: tensor 'weight' views element 4 of a storage of 4/
        .test(e.message) &&
      !e.message.includes("\n"),
  );
});

Deno.test("parseTorchBin() refuses a too-large expanded view in one line", async () => {
  await assert.rejects(
    () => read("huge_expand.bin"),
    /huge_expand\.bin: tensor 'weight' would take 4294967296 bytes once materialised/,
  );
});

for (
  const [file, global] of [
    ["evil_system.bin", "posix.system"],
    ["evil_eval.bin", "__builtin__.eval"],
    ["evil_class.bin", "argparse.Namespace"],
  ]
) {
  Deno.test(`parseTorchBin() refuses ${file}, naming ${global} as torch 1.13 does`, async () => {
    const torchMessage = EXPECTED.refused[file].torch_message as string;
    assert.ok(torchMessage.endsWith(`Unsupported class ${global}`), torchMessage);
    await assert.rejects(() => read(file), (e: Error) => {
      assert.ok(e instanceof TorchPickleError, String(e));
      assert.match(e.message, new RegExp(`${file}: Unsupported global: GLOBAL ${global} `));
      assert.ok(!e.message.includes("\n"));
      return true;
    });
  });
}

Deno.test("parseTorchBin() refuses protocol 4's FRAME opcode, as torch 1.13 does", async () => {
  assert.match(EXPECTED.refused["evil_protocol4.bin"].torch_message, /Unsupported operand 149$/);
  await assert.rejects(() => read("evil_protocol4.bin"), /Unsupported operand 149 \(FRAME\)/);
});

Deno.test("parseTorchBin() names the file when it is not a torch zip", () => {
  assert.throws(
    () => parseTorchBin(new Uint8Array([0x80, 2, 0x8a, 10]), "old.bin"),
    /^TorchPickleError: old\.bin: not a zip file: a checkpoint saved by torch < 1\.6/,
  );
  const noPickle = zipSync({ "a/b.txt": new Uint8Array([1]) });
  assert.throws(() => parseTorchBin(noPickle, "x.bin"), /x\.bin: zip has no <archive>\/data\.pkl/);
  const good = Deno.readFileSync(new URL("f32.bin", DIR));
  assert.throws(() => parseTorchBin(good.subarray(0, good.length - 30), "cut.bin"), /cut\.bin: /);
});

Deno.test("parseTorchBin() reads deflated entries, as a re-zipped checkpoint has", async () => {
  // torch stores entries; a zip tool that re-compresses them must still load.
  const { unzipSync } = await import("fflate");
  const files = unzipSync(await Deno.readFile(new URL("f32.bin", DIR)));
  const deflated = zipSync(files, { level: 6 });
  const tensors = parseTorchBin(deflated, "deflated.bin");
  assert.deepEqual([...tensors.get("weight")!.data], EXPECTED["f32.bin"].weight.values);
});

Deno.test("a torch.save'd ViT loads with its safetensors twin's weights and logits", async () => {
  const vit = EXPECTED.vit as {
    pixels: number[];
    pixels_shape: number[];
    logits: number[];
    keys: string[];
  };
  const bin = new URL("vit_bin/pytorch_model.bin", DIR).pathname;
  const st = new URL("vit_st/model.safetensors", DIR).pathname;
  const fromBin = parseWeights(await Deno.readFile(bin), bin);
  const fromSt = parseSafetensors(await Deno.readFile(st), st).tensors;
  assert.deepEqual([...fromBin.keys()], vit.keys);
  for (const [k, e] of fromSt) assert.deepEqual(fromBin.get(k)!.data, e.data, k);
  const logs: string[] = [];
  const models = [];
  for (const folder of ["vit_bin", "vit_st", "vit_sharded"]) {
    models.push(
      await ViTForImageClassification.fromPretrained(new URL(folder, DIR).pathname, {
        log: (m) => logs.push(m),
      }),
    );
  }
  assert.deepEqual(logs, [], "every key used, none missing");
  const out: Float32Array[] = [];
  for (const model of models) {
    const logits = scope(() =>
      model.forward(Tensor.from(new Float32Array(vit.pixels), vit.pixels_shape)).logits
    );
    out.push(await logits.toArray());
    logits.dispose();
  }
  assert.deepEqual(out[0], out[1], "bin and safetensors give identical logits");
  assert.deepEqual(out[2], out[1], "the sharded bin gives identical logits");
  // And both are PyTorch's logits (f32 against torch's f32, as the golden ViT test allows).
  const scale = Math.max(...vit.logits.map(Math.abs));
  assertClose(out[0], new Float32Array(vit.logits), { atol: 1e-3 * scale, rtol: 0 }, "logits");
  for (const m of models) m.dispose();
});

Deno.test("readTorchWeights() refuses a shard index that points outside the folder", async () => {
  const dir = await testTempDir();
  try {
    const index = `${dir}/pytorch_model.bin.index.json`;
    await Deno.writeTextFile(index, JSON.stringify({ weight_map: { w: "../../etc/x.bin" } }));
    await assert.rejects(
      () => readTorchWeights(dir),
      new RegExp(`${index}: weight_map\\['w'\\] is not a \\.bin file in the folder`),
    );
    assert.equal(await readTorchWeights(`${dir}/nothing`), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fromPretrained() reads an in-memory .bin; with no weights, names the file", async () => {
  const config = await Deno.readTextFile(new URL("vit_bin/config.json", DIR));
  const weights = await Deno.readFile(new URL("vit_bin/pytorch_model.bin", DIR));
  const model = await ViTForImageClassification.fromPretrained({ config, weights }, {
    log: () => {},
  });
  const st = parseSafetensors(await Deno.readFile(new URL("vit_st/model.safetensors", DIR)), "st");
  const [name, param] = model.namedParameters()[0];
  assert.deepEqual(await param.toArray(), st.tensors.get(name)!.data);
  model.dispose();
  const dir = await testTempDir();
  try {
    await Deno.writeTextFile(`${dir}/config.json`, config);
    await assert.rejects(
      () => ViTForImageClassification.fromPretrained(dir),
      new RegExp(`${dir}/model\\.safetensors`),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
