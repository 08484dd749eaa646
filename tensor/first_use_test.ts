import assert from "node:assert/strict";
import { gpu } from "./device.ts";
import { init } from "./runtime.ts";
import type { Backend, MatmulCall } from "./core/backend.ts";
import { SoftwareBackend } from "./backend/software/software.ts";
import { lastMatmulVariant, matmulVariantFor } from "./core/tuning.ts";
import type { FamilyCheck } from "./core/context.ts";
import { firstUseChecks, firstUseChecksSettled } from "./first_use.ts";
import { matmul, mul, selfAttention, sum } from "./ops.ts";
import { noGrad, scope, Tensor } from "./core/tensor.ts";
import { variantName } from "../kernels/matmul.ts";
import { values } from "./conformance.ts";
import * as ref from "./reference.ts";
import { assertClose } from "./_test_util.ts";

await init();

const TOL = { atol: 1e-4, rtol: 1e-3 };

/** A software backend whose products with the variants `wrong` picks come out scaled by 1.5. */
function wrongWhere(wrong: (name: string) => boolean, textures = true): SoftwareBackend {
  return new class extends SoftwareBackend {
    override matmul(call: MatmulCall): void {
      const bad = wrong(variantName(matmulVariantFor(call.shape)));
      super.matmul(bad ? { ...call, alpha: call.alpha * 1.5 } : call);
    }
  }(gpu().profile, { textures });
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
// texture tile for it.
const [M, K, N] = [128, 128, 96];

Deno.test(
  "a production tile that computes wrong is caught on first use, warned about and never used",
  async () => {
    const be = wrongWhere((name) => name.endsWith(" 32x32"));
    const { run, want } = linear(M, K, N);
    const ran: string[] = [];
    const { checks, warnings } = await withBackend(be, async () => {
      assert.equal(
        variantName(be.variantFor({ batch: 1, m: M, k: K, n: N, transA: false, transB: true })),
        "texture 32x32",
      );
      for (let i = 0; i < 3; i++) {
        const y = run();
        ran.push(variantName(lastMatmulVariant()!));
        assertClose(await y.toArray(), want, TOL, `product ${i}`);
        y.dispose();
        await firstUseChecksSettled();
      }
    });
    const bad = of(checks, "matmul texture 32x32 NT");
    assert.equal(bad.length, 1, "the check ran more than once, or not at all");
    assert.ok(!bad[0].ok && bad[0].error > 100, `scaled error ${bad[0].error}`);
    assert.ok(!ran.includes("texture 32x32"), `ran ${ran}`);
    // Until the family's small tile had passed, the plainest (start-up checked) tile ran.
    assert.deepEqual(ran, ["register 8x16", "texture 8x16", "texture 8x16"]);
    assert.deepEqual(of(checks, "matmul texture 8x16 NT").map((c) => c.ok), [true]);
    const lines = warnings.filter((w) => w.includes("matmul texture 32x32 NT"));
    assert.equal(lines.length, 1);
    assert.match(lines[0], /^tessera: matmul texture 32x32 NT computes wrong results .*scaled/);
    assert.ok(!lines[0].includes("\n"));
  },
);

Deno.test(
  "a production tile that computes right is checked once on first use and used from then on",
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
        await firstUseChecksSettled();
      }
    });
    assert.deepEqual(ran, ["register 8x16", "texture 32x32", "texture 32x32"]);
    const big = of(checks, "matmul texture 32x32 NT");
    assert.equal(big.length, 1, "the check ran more than once, or not at all");
    assert.ok(big[0].ok, `scaled error ${big[0].error}`);
    assert.deepEqual(warnings, []);
  },
);

Deno.test(
  "a Linear layer's backward on a wrong texturetn tile falls back and its gradients are right",
  async () => {
    // The weight and bias gradients of this layer are one texturetn product with column sums.
    const be = wrongWhere((name) => name.startsWith("texturetn "));
    const { x, w, bias } = linear(M, K, N);
    const g = values(M * N, 4);
    const grads: Float32Array[][] = [];
    const { checks } = await withBackend(be, async () => {
      for (let i = 0; i < 2; i++) {
        const [xt, wt, bt] = [
          Tensor.from(x, [M, K], { requiresGrad: true }),
          Tensor.from(w, [N, K], { requiresGrad: true }),
          Tensor.from(bias, [N], { requiresGrad: true }),
        ];
        scope(() => {
          const y = matmul(xt, wt, { transB: true, bias: bt });
          sum(mul(y, Tensor.from(g, [M, N]))).backward();
        });
        grads.push(await Promise.all([xt.grad!, wt.grad!, bt.grad!].map((t) => t.toArray())));
        for (const t of [xt, wt, bt]) {
          t.grad?.dispose();
          t.dispose();
        }
        await firstUseChecksSettled();
      }
    });
    const gh = ref.host(g, [M, N]);
    const dx = ref.refMatmul(gh, ref.host(w, [N, K]), false, false).data;
    const dw = ref.refMatmul(gh, ref.host(x, [M, K]), true, false).data;
    const db = ref.refReduce(gh, 0, "sum").data;
    for (const [i, [gx, gw, gb]] of grads.entries()) {
      assertClose(gx, dx, TOL, `dx, step ${i}`);
      assertClose(gw, dw, TOL, `dw, step ${i}`);
      assertClose(gb, db, TOL, `db, step ${i}`);
    }
    const failed = checks.filter((c) => !c.ok).map((c) => c.family);
    assert.deepEqual(failed.sort(), ["matmul texturetn 32x32 TN", "matmul texturetn 8x16 TN"]);
  },
);

Deno.test(
  "without texture operands, a wrong vec4 tile is caught on first use and the register one runs",
  async () => {
    const be = wrongWhere((name) => name.startsWith("vec4 "), false);
    const { run, want } = linear(M, K, N);
    const ran: string[] = [];
    const { checks } = await withBackend(be, async () => {
      for (let i = 0; i < 2; i++) {
        const y = run();
        ran.push(variantName(lastMatmulVariant()!));
        assertClose(await y.toArray(), want, TOL, `product ${i}`);
        y.dispose();
        await firstUseChecksSettled();
      }
    });
    assert.deepEqual(ran, ["register 8x16", "register 8x16"]);
    assert.deepEqual(checks.map((c) => `${c.family} ${c.ok}`).sort(), [
      "matmul vec4 16x16 NT false",
      "matmul vec4 16x32 NT false",
    ]);
  },
);

Deno.test("a wrong fused attention is caught on first use and attention is composed", async () => {
  const be = new class extends SoftwareBackend {
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
  }(gpu().profile);
  const [b, t, heads, hd] = [2, 7, 2, 4];
  const qkv = values(b * t * 3 * heads * hd, 5);
  const want = ref.refSelfAttention(ref.host(qkv, [b, t, 3 * heads * hd]), heads).data;
  const { checks } = await withBackend(be, async () => {
    for (let i = 0; i < 2; i++) {
      const y = noGrad(() => selfAttention(Tensor.from(qkv, [b, t, 3 * heads * hd]), heads));
      assertClose(await y.toArray(), want, TOL, `attention ${i}`);
      y.dispose();
      await firstUseChecksSettled();
    }
  });
  const attention = of(checks, "attention");
  assert.equal(attention.length, 1);
  assert.ok(!attention[0].ok, `scaled error ${attention[0].error}`);
});
