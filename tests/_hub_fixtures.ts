/**
 * Test helper: fixture repositories for the fake Hub (tests/_hub_server.ts): a tiny ViT saved
 * by tests/_tiny_vit.ts, and a parquet image dataset in the Hub's layout
 * (`data/{split}-00000-of-00001.parquet`, `struct<bytes, path>` images, ClassLabel names in the
 * `huggingface` metadata).
 *
 * @module
 */

// deno-lint-ignore no-import-prefix -- dev-only: `deno task` installs deno.json's imports
import { parquetWriteBuffer } from "npm:hyparquet-writer@0.17.0";
import { range } from "../data/dataset.ts";
import { encodePng } from "../data/png.ts";
import { renderBeanLeaf } from "../demo/synthetic_beans.ts";
import { testTempDir } from "../io/_test_util.ts";
import type { FixtureRepo } from "./_hub_server.ts";
import { saveTinyModel } from "./_tiny_vit.ts";

/**
 * A model repository holding the tiny ViT's config.json, model.safetensors and
 * preprocessor_config.json (the runtime must be started).
 *
 * @param id The repository id.
 * @param names Its labels.
 * @param seed Initialisation seed.
 * @returns The repository.
 */
export async function tinyVitRepo(
  id: string,
  names: string[],
  seed: number,
): Promise<FixtureRepo> {
  const dir = `${await testTempDir()}/tiny-vit`;
  const id2label = Object.fromEntries(names.map((n, i) => [String(i), n]));
  (await saveTinyModel(dir, id2label, seed)).dispose();
  const read = (f: string) => Deno.readFileSync(`${dir}/${f}`);
  return {
    type: "models",
    id,
    files: {
      "config.json": read("config.json"),
      "model.safetensors": read("model.safetensors"),
      "preprocessor_config.json": read("preprocessor_config.json"),
    },
  };
}

/** One split's parquet file: 32 px bean-leaf PNGs, labels cycling through the classes. */
function parquet(names: string[], n: number, seed: number): Uint8Array {
  const images = range(n).map((i) => ({
    bytes: encodePng(renderBeanLeaf(i % 3, seed + i, 32)),
    path: `${names[i % names.length]}.${seed + i}.png`,
  }));
  return new Uint8Array(parquetWriteBuffer({
    columnData: [
      { name: "image", data: images },
      { name: "labels", data: range(n).map((i) => BigInt(i % names.length)) },
    ],
    schema: [
      { name: "schema", num_children: 2 },
      { name: "image", repetition_type: "OPTIONAL", num_children: 2 },
      { name: "bytes", type: "BYTE_ARRAY", repetition_type: "OPTIONAL" },
      { name: "path", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" },
      { name: "labels", type: "INT64", repetition_type: "OPTIONAL" },
    ],
    kvMetadata: [{
      key: "huggingface",
      value: JSON.stringify({
        info: { features: { labels: { names, _type: "ClassLabel" } } },
      }),
    }],
  }));
}

/**
 * A dataset repository in the Hub's parquet layout, with a README.
 *
 * @param id The repository id.
 * @param names Class names.
 * @param splits Rows per split.
 * @param aliases Old names that redirect to it.
 * @returns The repository.
 */
export function parquetDatasetRepo(
  id: string,
  names: string[],
  splits: Record<string, number>,
  aliases: string[] = [],
): FixtureRepo {
  const files: Record<string, Uint8Array> = {
    "README.md": new TextEncoder().encode(`---\nlicense: mit\n---\n# ${id}\n`),
  };
  let seed = 0;
  for (const [split, n] of Object.entries(splits)) {
    files[`data/${split}-00000-of-00001.parquet`] = parquet(names, n, seed);
    seed += 100;
  }
  return { type: "datasets", id, files, aliases };
}
