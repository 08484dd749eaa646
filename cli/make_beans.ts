/**
 * `deno task make-beans [--out DIR] [--seed N] [--size PX]`: writes the generated beans-like
 * dataset as an ImageFolder of JPEGs with the real dataset's split sizes and class names. The
 * folder appears whole or not at all (it is built beside the target, then renamed).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { encodeJpeg } from "../data/jpeg.ts";
import {
  BEANS_CLASSES,
  BEANS_SPLITS,
  beanSeed,
  classCounts,
  renderBeanLeaf,
} from "../data/synthetic_beans.ts";
import { exists, joinPath } from "../io/files.ts";
import { runCli, UsageError } from "./_run.ts";

/** Where the default run keeps the generated dataset. */
export const DEFAULT_BEANS_DIR = ".cache/beans-synthetic";

/** Options of {@link makeBeans}. */
export interface MakeBeansOptions {
  /** Seed of the whole dataset. */
  seed?: number;
  /** Image width and height. */
  size?: number;
  /** Images per split (the real dataset's sizes by default). */
  splits?: Record<string, number>;
  /** JPEG quality. */
  quality?: number;
  /** Progress messages. */
  log?: (message: string) => void;
}

/**
 * Writes the dataset to `dir`, which must not exist yet.
 *
 * @param dir Target folder.
 * @param options Seed, size, split sizes.
 * @returns The number of images written.
 */
export async function makeBeans(dir: string, options: MakeBeansOptions = {}): Promise<number> {
  const seed = options.seed ?? 0;
  const size = options.size ?? 160;
  const splits = options.splits ?? BEANS_SPLITS;
  if (await exists(dir)) {
    throw new UsageError(`${dir} already exists; remove it or pick another --out`);
  }
  const temp = `${dir}.partial-${Deno.pid}`;
  await Deno.remove(temp, { recursive: true }).catch(() => {});
  let written = 0;
  try {
    for (const [split, total] of Object.entries(splits)) {
      const counts = classCounts(total);
      for (const [label, name] of BEANS_CLASSES.entries()) {
        const folder = joinPath(temp, split, name);
        await Deno.mkdir(folder, { recursive: true });
        for (let i = 0; i < counts[label]; i++) {
          const image = renderBeanLeaf(label, beanSeed(seed, split, label, i), size);
          await Deno.writeFile(
            joinPath(folder, `${name}_${split}.${i}.jpg`),
            encodeJpeg(image, options.quality ?? 90),
          );
          written++;
        }
      }
      options.log?.(`  ${split}: ${total} images`);
    }
    await Deno.rename(temp, dir);
  } catch (error) {
    await Deno.remove(temp, { recursive: true }).catch(() => {});
    throw error;
  }
  return written;
}

const USAGE = `usage: deno task make-beans [--out DIR] [--seed N] [--size PX]

Writes a generated beans-like ImageFolder (train 1034 / validation 133 / test 128 images;
angular_leaf_spot, bean_rust, healthy), deterministic from the seed.

  --out DIR    target folder (default ${DEFAULT_BEANS_DIR})
  --seed N     dataset seed (default 0)
  --size PX    image width and height (default 160)`;

if (import.meta.main) {
  await runCli("make-beans", async () => {
    const { values } = parseArgs({
      args: Deno.args.filter((a) => a !== "--debug"),
      options: {
        out: { type: "string", default: DEFAULT_BEANS_DIR },
        seed: { type: "string", default: "0" },
        size: { type: "string", default: "160" },
        help: { type: "boolean", default: false },
      },
    });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    const seed = Number(values.seed);
    const size = Number(values.size);
    if (!Number.isInteger(seed)) {
      throw new UsageError(`--seed must be an integer, got ${values.seed}`);
    }
    if (!Number.isInteger(size) || size < 16) {
      throw new UsageError(`--size must be an integer ≥ 16`);
    }
    const t0 = performance.now();
    console.log(`writing the generated beans dataset to ${values.out} (seed ${seed}, ${size} px)`);
    const n = await makeBeans(values.out, { seed, size, log: console.log });
    console.log(`wrote ${n} images in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  });
}
