import assert from "node:assert/strict";
import * as ops from "../../ops.ts";
import { init } from "../../runtime.ts";
import { engine } from "../../core/engine.ts";
import { scope, Tensor } from "../../core/tensor.ts";
import { forceRowFlavour } from "../../core/tuning.ts";
import type { RowFlavour } from "../../../kernels/rows.ts";
import { rng, uniform } from "../../_test_util.ts";
import { rowTextureLayout } from "./texture_rows.ts";

await init();

/** Runs softmax and layer norm forward and backward in one flavour; their values and kernels. */
async function rowOps(flavour: RowFlavour, rows: number, cols: number, seed: number) {
  const r = rng(seed);
  const x = uniform(r, rows * cols, -3, 3);
  const w = uniform(r, cols, 0.5, 1.5);
  const b = uniform(r, cols);
  const g = uniform(r, rows * cols);
  const keys = new Set<string>();
  const e = engine();
  const dispatch = e.dispatch;
  e.dispatch = (kernel, ...rest) => {
    keys.add(kernel.key);
    return dispatch.call(e, kernel, ...rest);
  };
  forceRowFlavour(flavour);
  try {
    const xs = Tensor.from(x, [rows, cols], { requiresGrad: true });
    const xl = Tensor.from(x, [rows, cols], { requiresGrad: true });
    const wt = Tensor.from(w, [cols], { requiresGrad: true });
    const bt = Tensor.from(b, [cols], { requiresGrad: true });
    const [s, l] = scope(() => {
      const gt = Tensor.from(g, [rows, cols]);
      const s = ops.softmax(xs);
      const l = ops.layerNorm(xl, wt, bt, 1e-5);
      ops.sum(ops.add(ops.mul(s, gt), ops.mul(l, gt))).backward();
      return [s, l];
    });
    const values = [
      await s.toArray(),
      await l.toArray(),
      await xs.grad!.toArray(),
      await xl.grad!.toArray(),
      await wt.grad!.toArray(),
      await bt.grad!.toArray(),
    ];
    for (const t of [s, l, xs.grad!, xl.grad!, wt.grad!, bt.grad!, xs, xl, wt, bt]) t.dispose();
    return { values, keys };
  } finally {
    forceRowFlavour(null);
    e.dispatch = dispatch;
  }
}

const TEXTURE_KERNELS = [
  "softmax:forward:texture",
  "softmax:backward:texture",
  "layernorm:forward:texture",
  "layernorm:backward-input:texture",
  "layernorm:backward-params:texture",
];

Deno.test("texture rows: the texture kernels run and give the vec4 flavour's bits", async () => {
  // 64 columns: 256-byte rows, one layer.
  const tex = await rowOps("texture", 37, 64, 1);
  const vec4 = await rowOps("vec4", 37, 64, 1);
  for (const k of TEXTURE_KERNELS) assert.ok(tex.keys.has(k), `${k} ran`);
  const names = ["softmax", "layer norm", "softmax grad", "layer norm grad", "dw", "db"];
  for (const [i, name] of names.entries()) {
    assert.deepEqual(tex.values[i], vec4.values[i], `${name}: same values as vec4`);
  }
});

Deno.test("texture rows: more rows than a texture is high go to layers", async () => {
  const maxHeight = engine().device.limits.maxTextureDimension2D;
  // An even row count past the limit: two layers of half the rows each.
  const rows = 2 * (Math.floor(maxHeight / 2) + 3);
  const t = Tensor.zeros([rows, 64]);
  const at = rowTextureLayout(t.storage, rows, 64)!;
  t.dispose();
  assert.equal(at.height, rows / 2);
  assert.deepEqual(at.layout.size, { width: 16, height: rows / 2, layers: 2 });
  const tex = await rowOps("texture", rows, 64, 2);
  const vec4 = await rowOps("vec4", rows, 64, 2);
  for (const k of TEXTURE_KERNELS) assert.ok(tex.keys.has(k), `${k} ran`);
  for (let i = 0; i < 6; i++) assert.deepEqual(tex.values[i], vec4.values[i], `output ${i}`);
});

Deno.test("texture rows: rows that cannot be copied in run as vec4", async () => {
  const t = Tensor.zeros([8, 60]);
  assert.equal(rowTextureLayout(t.storage, 8, 60), null, "240-byte rows");
  t.dispose();
  const tex = await rowOps("texture", 8, 60, 3);
  const vec4 = await rowOps("vec4", 8, 60, 3);
  for (const k of TEXTURE_KERNELS) assert.ok(!tex.keys.has(k), `${k} did not run`);
  for (let i = 0; i < 6; i++) assert.deepEqual(tex.values[i], vec4.values[i], `output ${i}`);
});
