import assert from "node:assert/strict";
import { fusedAttention } from "./fused_attention.ts";
import { SoftwareBackend } from "./software.ts";
import { init } from "../../runtime.ts";
import { backend } from "../../core/backend.ts";
import { engine } from "../../core/engine.ts";
import { scope, Tensor } from "../../core/tensor.ts";
import * as ref from "../../reference.ts";
import { assertClose, rng, type Tolerance, uniform } from "../../_test_util.ts";

await init();

const FORWARD: Tolerance = { atol: 2e-5, rtol: 2e-4 };
const BACKWARD: Tolerance = { atol: 1e-4, rtol: 1e-3 };

/** The kernels a fused attention records, forward and backward, by key. */
async function kernelsOf(run: () => void): Promise<string[]> {
  engine().profileStart();
  run();
  return (await engine().profileEnd()).map((k) => k.key).filter((k) => k.startsWith("attention"));
}

Deno.test(
  "fused attention matches the f64 reference, forward and gradients, on ragged token counts",
  async (t) => {
    if (!(backend() instanceof SoftwareBackend)) return; // GPU backends run attention otherwise
    const lanes = (backend() as SoftwareBackend).profile.simdLanes;
    // Token counts that fill no tile exactly (tiles own 8 or 16 rows and step 4 at a time),
    // head widths of one texel, two, and the bundled model's 32, one and several images.
    const cases = [[1, 5, 1, 4], [2, 7, 2, 8], [3, 37, 4, 32], [2, 101, 2, 32]] as const;
    for (const [b, tokens, heads, hd] of cases) {
      await t.step(`${b} images × ${tokens} tokens, ${heads} heads of ${hd}`, async () => {
        const d3 = 3 * heads * hd;
        const random = rng(tokens + hd);
        const x = uniform(random, b * tokens * d3, -2, 2);
        const g = uniform(random, b * tokens * heads * hd);
        const alpha = 0.7 / Math.sqrt(hd);
        const input = Tensor.from(x, [b, tokens, d3], { requiresGrad: true });
        let out: Tensor | null = null;
        const keys = await kernelsOf(() => {
          out = scope(() => {
            const y = fusedAttention(input, heads, alpha, true, false, lanes);
            assert.ok(y, "the fused path took the shape");
            y.backward(Tensor.from(g, y.shape));
            return y;
          });
        });
        assert.deepEqual(
          keys.map((k) => k.split(":")[1]).sort(),
          ["backward-kv", "backward-q", "forward"],
        );
        const qkv = ref.host(x, [b, tokens, d3]);
        const want = ref.refSelfAttention(qkv, heads, alpha).data;
        assertClose(await out!.toArray(), want, FORWARD, "forward");
        const gout = ref.host(g, [b, tokens, heads * hd]);
        const grad = ref.refSelfAttentionGrad(qkv, heads, gout, alpha).data;
        assertClose(await input.grad!.toArray(), grad, BACKWARD, "gradient");
        input.grad!.dispose();
        input.dispose();
        out!.dispose();
      });
    }
  },
);

Deno.test("fused attention runs wide heads forward only, and declines what it cannot run", async () => {
  if (!(backend() instanceof SoftwareBackend)) return;
  const lanes = (backend() as SoftwareBackend).profile.simdLanes;
  const [b, tokens, heads, hd] = [2, 19, 1, 64];
  const x = uniform(rng(3), b * tokens * 3 * heads * hd, -2, 2);
  const input = Tensor.from(x, [b, tokens, 3 * heads * hd]);
  const y = fusedAttention(input, heads, 0.125, false, false, lanes);
  assert.ok(y, "a head of 64 runs forward");
  const want = ref.refSelfAttention(ref.host(x, input.shape), heads, 0.125).data;
  assertClose(await y.toArray(), want, FORWARD, "forward, head of 64");
  y.dispose();
  // Its backward would be slower fused than as texture products; odd and too wide heads have
  // no kernel.
  assert.equal(fusedAttention(input, heads, 0.125, true, false, lanes), null);
  const odd = Tensor.from(new Float32Array(2 * 5 * 18), [2, 5, 18]);
  assert.equal(fusedAttention(odd, 2, 0.5, false, false, lanes), null);
  const wide = Tensor.from(new Float32Array(5 * 3 * 128), [1, 5, 3 * 128]);
  assert.equal(fusedAttention(wide, 1, 0.5, false, false, lanes), null);
  for (const t of [input, odd, wide]) t.dispose();
});
