/**
 * Tessera: fine-tune Vision Transformers in TypeScript on WebGPU.
 *
 * Start the runtime with {@link init}, then use GPU tensors with reverse-mode autograd, the
 * `nn` layers and the ViT and DeiT models (Hugging Face's names, safetensors checkpoints, the
 * `AutoModelForImageClassification` registry), the `ViTImageProcessor` (and
 * `AutoImageProcessor`, which reads preprocessor_config.json), datasets and the `DataLoader`, and
 * the `Trainer` with Hugging Face's `TrainingArguments`. Engine internals
 * (buffer pool, kernel variants, autotuning, profiler) are in the `./internals` export.
 *
 * This entry reads and writes plain paths through Deno ({@link DenoFileSystem}, the default
 * under Deno); `./browser` exports the same without it, for pages and Web Workers, where files
 * live in a `MemoryFileSystem`.
 *
 * @example
 * ```ts
 * import { AdamW, crossEntropy, init, matmul, scope, Tensor } from "@tessera/vit";
 *
 * const rt = await init();
 * console.log(rt.device.limits.maxStorageBufferBindingSize > 0);
 * const w = Tensor.from([0.1, -0.2, 0.3, 0.05, 0.2, -0.1], [2, 3], { requiresGrad: true });
 * const opt = new AdamW([w], { lr: 0.1 });
 * const x = Tensor.from([1, 0, 0, 0, 1, 0], [2, 3]);
 * for (let step = 0; step < 20; step++) {
 *   const loss = scope(() => {
 *     const l = crossEntropy(matmul(x, w, { transB: true }), [0, 1]);
 *     l.backward();
 *     return l;
 *   });
 *   opt.step();
 *   opt.zeroGrad();
 *   if (step === 19) console.log("loss", await loss.item());
 *   loss.dispose();
 * }
 * ```
 *
 * @module
 */

// Everything portable; the file layer below makes plain paths work under Deno.
export * from "./browser.ts";
export { DenoFileSystem } from "./io/deno_fs.ts";
// Ids such as "google/vit-base-patch16-224" load from the Hub into Python's cache.
export { denoHubClient, denoHubConfig, installDenoHub, NetNotGrantedError } from "./hub/deno.ts";
export { DenoHubStorage, type LinkKind } from "./hub/deno_storage.ts";
// Under Deno, init() also makes Hub ids resolve (the portable one in browser.ts does not).
export { init } from "./hub/deno_init.ts";
