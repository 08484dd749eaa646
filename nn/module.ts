/**
 * The Module base: named parameters and named children, whose dotted paths are the checkpoint
 * keys, in PyTorch's `state_dict` order (a module's own parameters, then its children's).
 *
 * @module
 */

import type { Tensor } from "../tensor/tensor.ts";

/**
 * A node of a model tree. Subclasses register parameters and children in the same order as
 * their PyTorch counterparts, so that `namedParameters()` lists Hugging Face's keys in order.
 *
 * @example
 * ```ts
 * import { Linear } from "./layers.ts";
 * const layer = new Linear(4, 2);
 * console.log(layer.namedParameters().map(([name]) => name)); // ["weight", "bias"]
 * ```
 */
export class Module {
  /** Training mode (dropout active). */
  training = true;
  /** Stays in evaluation mode through {@link Module.train} (a frozen backbone). */
  evalLocked = false;
  readonly #params: [string, Tensor][] = [];
  readonly #children: [string, Module][] = [];

  /** Registers a parameter under `name` and returns it. */
  protected registerParameter(name: string, tensor: Tensor): Tensor {
    tensor.requiresGrad = true;
    this.#params.push([name, tensor]);
    return tensor;
  }

  /** Registers a child module under `name` and returns it. */
  protected registerModule<M extends Module>(name: string, module: M): M {
    this.#children.push([name, module]);
    return module;
  }

  /**
   * Every parameter with its dotted path, own parameters first, then each child's.
   *
   * @param prefix Prepended to every name.
   * @returns Name and tensor pairs.
   */
  namedParameters(prefix = ""): Array<[string, Tensor]> {
    const out: Array<[string, Tensor]> = this.#params.map(([n, t]) => [prefix + n, t]);
    for (const [name, child] of this.#children) {
      out.push(...child.namedParameters(`${prefix}${name}.`));
    }
    return out;
  }

  /** Every parameter, in {@link Module.namedParameters} order. */
  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /**
   * @internal Adds a child after construction (an adapter such as LoRA's `lora_A`), named as
   * `registerModule` would.
   */
  _addModule<M extends Module>(name: string, module: M): M {
    if (this.#children.some(([n]) => n === name)) throw new Error(`child '${name}' exists`);
    return this.registerModule(name, module);
  }

  /** @internal Removes a child added by {@link Module._addModule} (merging an adapter). */
  _removeModule(name: string): void {
    const i = this.#children.findIndex(([n]) => n === name);
    if (i >= 0) this.#children.splice(i, 1);
  }

  /** This module and every descendant, with dotted paths. */
  namedModules(prefix = ""): Array<[string, Module]> {
    const out: Array<[string, Module]> = [[prefix.replace(/\.$/, ""), this]];
    for (const [name, child] of this.#children) {
      out.push(...child.namedModules(`${prefix}${name}.`));
    }
    return out;
  }

  /** Sets training mode on this module and every descendant. */
  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode && !m.evalLocked;
    return this;
  }

  /** Sets evaluation mode (dropout off). */
  eval(): this {
    return this.train(false);
  }

  /** Number of parameter elements. */
  numParameters(): number {
    return this.parameters().reduce((n, t) => n + t.size, 0);
  }

  /** Frees every parameter and its gradient. */
  dispose(): void {
    for (const t of this.parameters()) {
      t.grad?.dispose();
      t.grad = null;
      t.dispose();
    }
  }
}

/** An indexed list of modules, named "0", "1", … as `nn.ModuleList`. */
export class ModuleList<M extends Module> extends Module {
  /** The modules, in order. */
  readonly items: M[];

  /**
   * Registers each module under its index.
   *
   * @param items The modules.
   */
  constructor(items: M[]) {
    super();
    this.items = items.map((m, i) => this.registerModule(String(i), m));
  }
}
