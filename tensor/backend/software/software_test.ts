import assert from "node:assert/strict";
import { variantName } from "../../../kernels/matmul.ts";
import { init } from "../../runtime.ts";
import { backend } from "../../core/backend.ts";

await init();

Deno.test("a small model's weight gradients take the medium TN tile, ViT-Tiny's the big one", () => {
  if (backend().name !== "software") return; // GPU backends choose the tiled family
  // The backend's own choice: asking the runtime would record first-use checks for no product.
  const tile = (m: number, k: number, n: number, transA: boolean, transB: boolean) =>
    variantName(backend().variantFor({ batch: 1, m, k, n, transA, transB }));
  // The bundled model: qkv weight gradient over 16 images of 101 tokens.
  assert.equal(tile(384, 1616, 128, true, false), "texturetn 16x32");
  // ViT-Tiny/16-224: the MLP's up projection over 16 images of 197 tokens.
  assert.equal(tile(768, 3152, 192, true, false), "texturetn 32x32");
  // The other layouts keep the big tile at the bundled model's sizes; tiny products the small.
  assert.equal(tile(1616, 128, 384, false, true), "texture 32x32");
  assert.equal(tile(1616, 384, 128, false, false), "texturenn 32x32");
  assert.equal(tile(16, 128, 3, true, false), "texturetn 8x16");
});
