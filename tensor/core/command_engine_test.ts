import assert from "node:assert/strict";
import { engine, type Storage } from "./engine.ts";
import { mapKernel } from "../../kernels/elementwise.ts";
import { defineKernel } from "../../kernels/kernel.ts";
import { BindingAliasingError } from "./aliasing.ts";
import { softmax } from "../ops/nn.ts";
import { forceRowFlavour } from "./tuning.ts";
import { Tensor } from "./tensor.ts";
import { init } from "../runtime.ts";

await init();

Deno.test(
  "a WebGPU validation error surfaces at the next readback instead of passing silently",
  async () => {
    const t = Tensor.from([1, 2], [2]);
    const out = Tensor.empty([2]);
    // 70000 workgroups in x exceeds maxComputeWorkgroupsPerDimension.
    engine().dispatch(mapKernel("neg"), [t.storage, out.storage], { n: 2, s: 0 }, [70000]);
    await assert.rejects(
      () => t.toArray(),
      /WebGPU reported \d+ error.*must be less or equal to 65535/,
    );
    assert.deepEqual([...await t.toArray()], [1, 2], "later work proceeds");
    t.dispose();
    out.dispose();
  },
);

Deno.test("a step records many dispatches into one submit", async () => {
  const before = engine().submits;
  const x = Tensor.from([1], [1]);
  engine().flush();
  const start = engine().submits;
  let y = x;
  for (let i = 0; i < 50; i++) y = Tensor.empty([1]);
  for (let i = 0; i < 50; i++) {
    engine().dispatch(mapKernel("neg"), [x.storage, y.storage], { n: 1, s: 0 }, [1]);
  }
  await y.toArray();
  assert.equal(engine().submits - start, 1);
  assert.ok(engine().submits > before);
});

/** Writes `a` and `b` through two writable bindings. */
const twoOutputs = defineKernel(
  "test:two-outputs",
  [["a", "array<f32>", "read_write"], ["b", "array<f32>", "read_write"]],
  [["n", "u32"]],
  `@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  if (g.x < params.n) { a[g.x] = 1.0; b[g.x] = 2.0; }
}`,
);

/** The bytes `[start, end)` of a tensor's buffer, as a binding. */
function part(t: Tensor, start: number, end: number): Storage {
  return { buffer: t.storage.buffer, byteOffset: start, byteLength: end - start };
}

/** Runs `fn` with validation mode on, restoring the previous setting. */
function validating<T>(fn: () => T): T {
  const before = engine().validate;
  engine().validate = true;
  try {
    return fn();
  } finally {
    engine().validate = before;
  }
}

Deno.test(
  "validation mode rejects two writable bindings of overlapping ranges, naming kernel and bindings",
  () => {
    const t = Tensor.zeros([256]);
    validating(() => {
      assert.throws(
        () => engine().dispatch(twoOutputs, [part(t, 0, 512), part(t, 256, 768)], { n: 1 }, [1]),
        (e: unknown) =>
          e instanceof BindingAliasingError && e.kernel === "test:two-outputs" &&
          e.conflict.first === 0 && e.conflict.second === 1 &&
          /kernel test:two-outputs: bindings 0 and 1 are writable and overlap/.test(e.message),
      );
    });
    t.dispose();
  },
);

Deno.test(
  "validation mode rejects one buffer bound writable and read-only, even in disjoint ranges",
  () => {
    const t = Tensor.zeros([128]);
    validating(() =>
      assert.throws(
        () =>
          engine().dispatch(mapKernel("neg"), [part(t, 0, 256), part(t, 256, 512)], {
            n: 64,
            s: 0,
          }, [1]),
        /kernel map:neg:false: bindings 0 and 1 bind one buffer writable and read-only/,
      )
    );
    t.dispose();
  },
);

Deno.test(
  "validation mode accepts disjoint writable ranges of one buffer and shared read-only ones",
  async () => {
    const t = Tensor.zeros([128]);
    const out = Tensor.empty([64]);
    validating(() => {
      engine().dispatch(twoOutputs, [part(t, 0, 256), part(t, 256, 512)], { n: 64 }, [1]);
      const sum = mapKernel("add");
      engine().dispatch(sum, [part(t, 0, 256), part(t, 0, 256), out.storage], { n: 64, s: 0 }, [1]);
    });
    assert.deepEqual([...await out.toArray()].slice(0, 2), [2, 2]);
    assert.deepEqual([...await t.toArray()].slice(63, 65), [1, 2]);
    t.dispose();
    out.dispose();
  },
);

Deno.test(
  "without validation mode an aliasing dispatch is recorded (Deno's wgpu runs it)",
  async () => {
    const t = Tensor.zeros([4]);
    const before = engine().validate;
    engine().validate = false;
    try {
      engine().dispatch(twoOutputs, [t.storage, t.storage], { n: 4 }, [1]);
    } finally {
      engine().validate = before;
    }
    await t.toArray();
    t.dispose();
  },
);

Deno.test(
  "the vec4 softmax binds its output once, for rows aligned to vec4s and for rows that are not",
  async () => {
    forceRowFlavour("vec4");
    try {
      for (const cols of [8, 7]) {
        const x = Tensor.from(Float32Array.from({ length: 3 * cols }, (_, i) => i % 5), [3, cols]);
        const y = validating(() => softmax(x));
        const values = await y.toArray();
        for (let r = 0; r < 3; r++) {
          const row = values.subarray(r * cols, (r + 1) * cols);
          assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5, `row ${r} of ${cols}`);
        }
        x.dispose();
        y.dispose();
      }
    } finally {
      forceRowFlavour(null);
    }
  },
);
