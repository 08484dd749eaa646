/**
 * ViT position embeddings on non-square patch grids against Hugging Face's
 * interpolate_pos_encoding (tests/fixtures/gen_pos_grid.py, torch in f64 stored as f32): outputs
 * within atol 2e-5 + rtol 2e-4, embedding gradients within atol 1e-4 + rtol 1e-3.
 */
import { interpolatePositions } from "../nn/vit.ts";
import { parseSafetensors } from "../nn/safetensors.ts";
import { scope, Tensor } from "../tensor/tensor.ts";
import { assertClose } from "../tensor/_test_util.ts";
import { init } from "../tensor/runtime.ts";

await init();

const FILE = new URL("./fixtures/pos_grid.safetensors", import.meta.url);

Deno.test("position embeddings resized to non-square grids match Hugging Face's, with gradients", async () => {
  const { tensors } = parseSafetensors(await Deno.readFile(FILE), FILE.pathname);
  const grids = [...tensors.keys()].filter((k) => k.endsWith(".out")).map((k) => k.slice(0, -4));
  if (grids.length < 4) throw new Error("pos_grid.safetensors is incomplete: rerun its generator");
  for (const grid of grids) {
    const [gh, gw] = grid.split("x").map(Number);
    const get = (part: string) => tensors.get(`${grid}.${part}`)!;
    const emb = Tensor.from(get("in0").data, get("in0").shape, { requiresGrad: true });
    const out = scope(() => {
      const y = interpolatePositions(emb, 1, gh, gw);
      y.backward(Tensor.from(get("gout").data, y.shape));
      return y;
    });
    assertClose(await out.toArray(), get("out").data, { atol: 2e-5, rtol: 2e-4 }, `${grid} output`);
    assertClose(
      await emb.grad!.toArray(),
      get("grad0").data,
      { atol: 1e-4, rtol: 1e-3 },
      `${grid} gradient`,
    );
    out.dispose();
    emb.grad!.dispose();
    emb.dispose();
  }
});
