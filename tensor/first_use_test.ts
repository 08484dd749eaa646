import assert from "node:assert/strict";
import { gpu } from "./device.ts";
import { createRuntime, init, type Runtime } from "./runtime.ts";
import type { Backend, MatmulCall } from "./core/backend.ts";
import { SoftwareBackend } from "./backend/software/software.ts";
import { lastMatmulVariant, matmulVariantFor } from "./core/tuning.ts";
import type { FamilyCheck } from "./core/context.ts";
import { firstUseChecks, firstUseChecksSettled, WrongProductError } from "./first_use.ts";
import { matmul, mul, selfAttention, sum } from "./ops.ts";
import { noGrad, scope, Tensor } from "./core/tensor.ts";
import { variantName } from "../kernels/matmul.ts";
import { values } from "./conformance.ts";
import * as ref from "./reference.ts";
import { assertClose } from "./_test_util.ts";

await init();

const TOL = { atol: 1e-4, rtol: 1e-3 };

/**
 * A kind of software backend whose products with the variants `wrong` picks come out scaled by
 * 1.5: a wrong kernel the start-up check does not run.
 */
function wrongWhere(wrong: (name: string) => boolean, textures = true) {
  const Kind = class extends SoftwareBackend {
    override matmul(call: MatmulCall): void {
      const bad = wrong(variantName(matmulVariantFor(call.shape)));
      super.matmul(bad ? { ...call, alpha: call.alpha * 1.5 } : call);
    }
    // A Linear layer's weight gradient (texturetn with column sums), as wrong as its tile.
    override linearGrads(g: Tensor, x: Tensor, alpha: number, half: boolean) {
      const s = { batch: 1, m: g.shape[1], k: g.shape[0], n: x.shape[1], transA: true };
      const bad = wrong(variantName(matmulVariantFor({ ...s, transB: false })));
      return super.linearGrads(g, x, bad ? alpha * 1.5 : alpha, half);
    }
  };
  return (rt: Runtime) => new Kind(rt.profile, { textures });
}

/**
 * Runs `fn` with `be` as the runtime's backend (the first-use check keeps one record per
 * backend, so a new one starts unchecked), collecting the checks that finish and the warnings
 * printed; puts the runtime's own backend back.
 */
async function withBackend(
  be: Backend,
  fn: () => Promise<void>,
): Promise<{ checks: FamilyCheck[]; warnings: string[] }> {
  const own = gpu().backend;
  const before = firstUseChecks().length;
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => warnings.push(args.join(" "));
  gpu().useBackend(be);
  try {
    await fn();
    await firstUseChecksSettled();
    return { checks: firstUseChecks().slice(before), warnings };
  } finally {
    console.warn = warn;
    gpu().useBackend(own);
  }
}

/** `x · wᵀ + bias` (a Linear layer) of known values, with its f64 reference. */
function linear(m: number, k: number, n: number) {
  const x = values(m * k, 1);
  const w = values(n * k, 2);
  const bias = values(n, 3);
  const want =
    ref.refMatmul(ref.host(x, [m, k]), ref.host(w, [n, k]), false, true, ref.host(bias, [n]))
      .data;
  const run = () =>
    noGrad(() =>
      matmul(Tensor.from(x, [m, k]), Tensor.from(w, [n, k]), {
        transB: true,
        bias: Tensor.from(bias, [n]),
      })
    );
  return { run, want, x, w, bias };
}

/** The checks of one variant and layout: `matmul texture 32x32 NT`. */
function of(checks: FamilyCheck[], family: string): FamilyCheck[] {
  return checks.filter((c) => c.family === family);
}

// A product of 128 × 128 × 96 is past the small-product threshold: the backend picks the 32×32
// texture tile for it, which the start-up check does not run.
const [M, K, N] = [128, 128, 96];

/**
 * Runs `work` on a new runtime with a backend of the kind `make` makes, collecting the warnings
 * printed. Its reads may throw: a runtime whose variant failed is left unusable.
 */
async function onNewRuntime(
  make: (rt: Runtime) => Backend,
  work: (rt: Runtime) => Promise<void>,
): Promise<{ rt: Runtime; warnings: string[] }> {
  const rt = await createRuntime();
  rt.useBackend(make(rt));
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => warnings.push(args.join(" "));
  try {
    await work(rt);
    return { rt, warnings };
  } finally {
    console.warn = warn;
  }
}

/**
 * Shows that a kind of backend with a wrong variant fails the first read after that variant's
 * first product, in one line naming `family`, and every read after; and that a runtime started
 * afterwards does not use it and computes `want`.
 */
async function caughtThenAvoided(
  make: (rt: Runtime) => Backend,
  family: string,
  run: () => Promise<Float32Array[]>,
  want: ArrayLike<number>[],
): Promise<{ ran: string[] }> {
  const first = await onNewRuntime(make, async (rt) => {
    for (let i = 0; i < 2; i++) {
      const error = await rt.run(run).then(() => null, (e) => e);
      assert.ok(error instanceof WrongProductError, `read ${i}: ${error}`);
      assert.ok(error.message.startsWith(`${family} computed wrong results`), error.message);
      assert.ok(!error.message.includes("\n"));
    }
  });
  const failed = first.rt.run(() => firstUseChecks()).filter((c) => !c.ok);
  // A finite error: the check compared numbers (a check that could not run fails as Infinity).
  assert.ok(
    failed.some((c) => c.family === family && Number.isFinite(c.error) && c.error > 100),
    JSON.stringify(failed),
  );
  assert.equal(
    first.warnings.filter((w) => w.startsWith(`tessera: ${family} computes wrong`)).length,
    1,
  );
  const ran: string[] = [];
  await onNewRuntime(make, async (rt) => {
    const got = await rt.run(run);
    ran.push(variantName(rt.run(() => lastMatmulVariant())!));
    got.forEach((g, i) => assertClose(g, want[i], TOL, `${family}, output ${i}`));
    assert.equal(rt.run(() => firstUseChecks()).filter((c) => c.family === family).length, 0);
  });
  return { ran };
}

Deno.test(
  "a wrong production tile fails the first read after its first product, and a runtime " +
    "started afterwards falls back to a checked tile",
  async () => {
    const { run, want } = linear(M, K, N);
    const { ran } = await caughtThenAvoided(
      wrongWhere((name) => name.endsWith(" 32x32")),
      "matmul texture 32x32 NT",
      async () => [await run().toArray()],
      [want],
    );
    // The family's small tile, which the start-up check ran.
    assert.deepEqual(ran, ["texture 8x16"]);
  },
);

Deno.test(
  "a production tile that computes right is checked once, ahead of its first product, which " +
    "it runs",
  async () => {
    const be = new SoftwareBackend(gpu().profile);
    const { run, want } = linear(M, K, N);
    const ran: string[] = [];
    const { checks, warnings } = await withBackend(be, async () => {
      for (let i = 0; i < 3; i++) {
        const y = run();
        ran.push(variantName(lastMatmulVariant()!));
        assertClose(await y.toArray(), want, TOL, `product ${i}`);
        y.dispose();
      }
    });
    assert.deepEqual(ran, ["texture 32x32", "texture 32x32", "texture 32x32"]);
    const big = of(checks, "matmul texture 32x32 NT");
    assert.equal(big.length, 1, "the check ran more than once, or not at all");
    assert.ok(big[0].ok, `scaled error ${big[0].error}`);
    assert.deepEqual(warnings, []);
  },
);

Deno.test(
  "a wrong texturetn tile in a Linear layer's backward is caught, and the next runtime's " +
    "gradients are right",
  async () => {
    const { x, w, bias } = linear(M, K, N);
    const g = values(M * N, 4);
    const backward = async () => {
      const [xt, wt, bt] = [
        Tensor.from(x, [M, K], { requiresGrad: true }),
        Tensor.from(w, [N, K], { requiresGrad: true }),
        Tensor.from(bias, [N], { requiresGrad: true }),
      ];
      scope(() => {
        const y = matmul(xt, wt, { transB: true, bias: bt });
        sum(mul(y, Tensor.from(g, [M, N]))).backward();
      });
      try {
        return await Promise.all([xt.grad!, wt.grad!, bt.grad!].map((t) => t.toArray()));
      } finally {
        for (const t of [xt, wt, bt]) {
          t.grad?.dispose();
          t.dispose();
        }
      }
    };
    const gh = ref.host(g, [M, N]);
    await caughtThenAvoided(
      // A small model's weight gradient: the medium TN tile.
      wrongWhere((name) => name === "texturetn 16x32"),
      "matmul texturetn 16x32 TN",
      backward,
      [
        ref.refMatmul(gh, ref.host(w, [N, K]), false, false).data,
        ref.refMatmul(gh, ref.host(x, [M, K]), true, false).data,
        ref.refReduce(gh, 0, "sum").data,
      ],
    );
  },
);

Deno.test(
  "without texture operands, a wrong vec4 tile is caught and the next runtime runs a checked one",
  async () => {
    const { run, want } = linear(M, K, N);
    const { ran } = await caughtThenAvoided(
      wrongWhere((name) => name === "vec4 16x32", false),
      "matmul vec4 16x32 NT",
      async () => [await run().toArray()],
      [want],
    );
    assert.deepEqual(ran, ["register 8x16"]);
  },
);

Deno.test("a wrong fused attention is caught, and the next runtime composes attention", async () => {
  const Kind = class extends SoftwareBackend {
    override selfAttention(
      qkv: Tensor,
      heads: number,
      alpha: number,
      grad: boolean,
      half = false,
    ): Tensor | null {
      const y = super.selfAttention(qkv, heads, alpha, grad, half);
      return y && mul(y, Tensor.from([1.5], [1]));
    }
  };
  const [b, t, heads, hd] = [2, 7, 2, 4];
  const qkv = values(b * t * 3 * heads * hd, 5);
  const want = ref.refSelfAttention(ref.host(qkv, [b, t, 3 * heads * hd]), heads).data;
  await caughtThenAvoided(
    (rt) => new Kind(rt.profile),
    "attention",
    async () => [
      await noGrad(() => selfAttention(Tensor.from(qkv, [b, t, 3 * heads * hd]), heads)).toArray(),
    ],
    [want],
  );
});

Deno.test("each runtime checks a variant once, on its own first use of it", async () => {
  const { run, want } = linear(M, K, N);
  const family = "matmul texture 32x32 NT";
  const count = (rt: Runtime) => rt.run(() => firstUseChecks()).filter((c) => c.family === family);
  const own = count(gpu()).length;
  await onNewRuntime((rt) => new SoftwareBackend(rt.profile), async (rt) => {
    assert.equal(count(rt).length, 0);
    for (let i = 0; i < 3; i++) {
      const y = rt.run(run);
      assert.equal(variantName(rt.run(() => lastMatmulVariant())!), "texture 32x32");
      assertClose(await y.toArray(), want, TOL, `product ${i}`);
      y.dispose();
    }
    assert.deepEqual(count(rt).map((c) => c.ok), [true]);
  });
  assert.equal(count(gpu()).length, own, "another runtime's check counted on this one");
});

Deno.test(
  "a right fused attention is checked once, forward and backward, even under noGrad",
  async () => {
    const be = new SoftwareBackend(gpu().profile);
    const [b, t, heads, hd] = [2, 7, 2, 4];
    const qkv = values(b * t * 3 * heads * hd, 6);
    const want = ref.refSelfAttention(ref.host(qkv, [b, t, 3 * heads * hd]), heads).data;
    const { checks, warnings } = await withBackend(be, async () => {
      for (let i = 0; i < 2; i++) {
        const y = noGrad(() => selfAttention(Tensor.from(qkv, [b, t, 3 * heads * hd]), heads));
        assertClose(await y.toArray(), want, TOL, `attention ${i}`);
        y.dispose();
      }
    });
    assert.deepEqual(of(checks, "attention").map((c) => c.ok), [true]);
    assert.deepEqual(warnings, []);
  },
);

Deno.test(
  "a check whose read never completes (device gone, as at unload) warns not and runs again",
  async () => {
    const { run, want } = linear(M, K, N);
    const family = "matmul texture 32x32 NT";
    const { rt, warnings } = await onNewRuntime(
      (rt) => new SoftwareBackend(rt.profile),
      async (rt) => {
        // The first read, the check's (recorded ahead of the product), rejects as a read does
        // once the device is destroyed.
        const engine = rt.engine as unknown as { read: (...a: unknown[]) => Promise<ArrayBuffer> };
        const read = engine.read.bind(engine);
        let reads = 0;
        engine.read = (...a) => reads++ === 0 ? Promise.reject(new Error("destroyed")) : read(...a);
        const y = rt.run(run);
        await rt.run(() => firstUseChecksSettled());
        assert.equal(reads, 1);
        assert.deepEqual(rt.run(() => firstUseChecks()).map((c) => c.family), []);
        // The product itself ran; the next use records the check again, and it passes.
        assertClose(await y.toArray(), want, TOL, "first product");
        y.dispose();
        const again = rt.run(run);
        assertClose(await again.toArray(), want, TOL, "second product");
        again.dispose();
      },
    );
    assert.deepEqual(warnings, []);
    assert.deepEqual(rt.run(() => firstUseChecks()).map((c) => [c.family, c.ok]), [[family, true]]);
  },
);
