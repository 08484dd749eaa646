/**
 * `deno task make-beans`: writes the generated beans-like dataset (see `demo/make_beans.ts`).
 *
 * @module
 */

import { DEFAULT_BEANS_DIR, makeBeans } from "../demo/make_beans.ts";
import { defineCli, runCli } from "./_run.ts";

/** The task: flags and what it does. */
export const MAKE_BEANS_CLI = defineCli({
  name: "make-beans",
  usage: `usage: deno task make-beans [--out DIR] [--seed N] [--size PX]

Writes a generated beans-like ImageFolder (train 1034 / validation 133 / test 128 images;
angular_leaf_spot, bean_rust, healthy), deterministic from the seed.`,
  flags: {
    out: { type: "string", default: DEFAULT_BEANS_DIR, value: "DIR", help: "target folder" },
    seed: { type: "number", integer: true, default: 0, value: "N", help: "dataset seed" },
    size: {
      type: "number",
      integer: true,
      min: 16,
      default: 160,
      value: "PX",
      help: "image width and height",
    },
  },
  main: async ({ values: { out, seed, size } }) => {
    const t0 = performance.now();
    console.log(`writing the generated beans dataset to ${out} (seed ${seed}, ${size} px)`);
    const n = await makeBeans(out, { seed, size, log: console.log });
    console.log(`wrote ${n} images in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  },
});

if (import.meta.main) await runCli(MAKE_BEANS_CLI);
