/**
 * Gradient checkpointing, as `torch.utils.checkpoint`: a block runs without recording the tape,
 * keeping only its input, and its backward runs the block again with recording and
 * backpropagates through that copy. Activations inside the block live only during its backward.
 *
 * @module
 */

import { autocast, halfMatmuls } from "../tensor/ops_matmul.ts";
import { enableGrad, isGradEnabled, noGrad, record, scope, type Tensor } from "../tensor/tensor.ts";
import { dropoutState, setDropoutSeed } from "./layers.ts";
import type { Module } from "./module.ts";

/**
 * Runs `fn(x)` as one checkpointed step of the tape. The recomputation replays the same
 * dropout masks and matmul precision as the first run, so gradients equal the plain run's.
 *
 * @param fn The block (for example one encoder layer); it must depend only on `x` and the
 * parameters of `module`.
 * @param x The block's input.
 * @param module Owner of the parameters `fn` uses; those that require grad receive gradients.
 * @returns The block's output, recorded on the tape as one node.
 * @example
 * ```ts
 * import { checkpointed } from "./gradient_checkpointing.ts";
 * import { Linear } from "./layers.ts";
 * import { Tensor } from "../tensor/tensor.ts";
 * import { sum } from "../tensor/ops.ts";
 * const fc = new Linear(2, 2);
 * const x = Tensor.from([1, 2], [1, 2], { requiresGrad: true });
 * sum(checkpointed((t) => fc.forward(t), x, fc)).backward();
 * console.log(fc.weight.grad!.shape); // [2, 2]
 * ```
 */
export function checkpointed(fn: (x: Tensor) => Tensor, x: Tensor, module: Module): Tensor {
  const params = module.parameters().filter((p) => p.requiresGrad);
  if (!isGradEnabled() || (!x.requiresGrad && params.length === 0)) return fn(x);
  const rng = dropoutState();
  const half = halfMatmuls();
  const out = noGrad(() => scope(() => fn(x)));
  return record(out, [x, ...params], (g) => {
    const now = dropoutState();
    setDropoutSeed(rng.seed, rng.calls);
    try {
      return scope(() => {
        // A leaf over the saved input, so the inner backward stops there and leaves dx on it.
        const input = noGrad(() => x.view(x.shape));
        input.requiresGrad = x.requiresGrad;
        const y = enableGrad(() => autocast(half, () => fn(input)));
        // Each recomputed activation goes as soon as the backward has passed it.
        y.backward(g, { release: true });
        return [input.grad, ...params.map(() => null)];
      });
    } finally {
      setDropoutSeed(now.seed, now.calls);
    }
  }, "checkpoint");
}

/**
 * Turns on gradient checkpointing in every module of `model` that supports it (those with a
 * `gradientCheckpointing` switch, as the encoders), as Transformers'
 * `gradient_checkpointing_enable()`.
 *
 * @param model The model.
 * @param enable Whether to recompute (true) or keep activations (false).
 * @returns How many modules were switched.
 * @example
 * ```ts ignore
 * import { enableGradientCheckpointing } from "./gradient_checkpointing.ts";
 * enableGradientCheckpointing(model); // 1 (the encoder)
 * ```
 */
export function enableGradientCheckpointing(model: Module, enable = true): number {
  let n = 0;
  for (const [, m] of model.namedModules()) {
    if (typeof (m as { gradientCheckpointing?: unknown }).gradientCheckpointing === "boolean") {
      (m as unknown as { gradientCheckpointing: boolean }).gradientCheckpointing = enable;
      n++;
    }
  }
  return n;
}
