/**
 * The resolve step of `fromPretrained` and `loadDataset` (see `io/sources.ts`): a name that is
 * a local folder is used as it is; otherwise a name shaped like a Hub id is fetched into the
 * cache, as Transformers does: for a model its `config.json`, its weights
 * (`model.safetensors`, else `pytorch_model.bin`) and, when it has one,
 * `preprocessor_config.json`; for an image processor that file; for a dataset every file of the
 * repository. The folder handed to the loaders is the snapshot (`…/snapshots/<commit>`).
 *
 * @module
 */

import type { ResolveOptions, SourceKind, SourceResolver } from "../io/sources.ts";
import { type HubClient, hubDownload } from "./download.ts";
import { EntryNotFoundError, HubError } from "./errors.ts";
import { isRepoId, type RepoRef } from "./repo.ts";
import { snapshotDownload } from "./snapshot.ts";

function parentOf(path: string): string {
  return path.slice(0, path.lastIndexOf("/"));
}

async function optional(fetch: () => Promise<string>): Promise<string | null> {
  try {
    return await fetch();
  } catch (error) {
    if (error instanceof EntryNotFoundError) return null;
    if (error instanceof HubError && error.code === "NotCached") return null;
    throw error;
  }
}

/**
 * Fetches what a model, processor or dataset id needs into the cache.
 *
 * @param client Settings, cache and fetch.
 * @param id The repository id.
 * @param kind What will be read.
 * @param options The revision.
 * @returns The snapshot folder.
 * @throws {HubError} One line: not found, gated, offline without a cache, no weights.
 * @example
 * ```ts ignore
 * import { fetchFromHub } from "./resolve.ts";
 * const dir = await fetchFromHub(client, "google/vit-base-patch16-224", "model", {});
 * ```
 */
export async function fetchFromHub(
  client: HubClient,
  id: string,
  kind: SourceKind,
  options: ResolveOptions,
): Promise<string> {
  const repo: RepoRef = {
    id,
    type: kind === "dataset" ? "dataset" : "model",
    revision: options.revision ?? "main",
  };
  if (kind === "dataset") return await snapshotDownload(client, repo);
  if (kind === "processor") {
    return parentOf(await hubDownload(client, repo, "preprocessor_config.json"));
  }
  const config = await hubDownload(client, repo, "config.json");
  const weights = await optional(() => hubDownload(client, repo, "model.safetensors")) ??
    await optional(() => hubDownload(client, repo, "pytorch_model.bin"));
  if (!weights) {
    throw new HubError(
      "NoWeights",
      `model '${id}' has neither model.safetensors nor pytorch_model.bin at '${repo.revision}'` +
        (client.config.offline ? " in the cache (HF_HUB_OFFLINE is set)" : ""),
    );
  }
  await optional(() => hubDownload(client, repo, "preprocessor_config.json"));
  return parentOf(config);
}

/**
 * The resolver to install with `setSourceResolver`: local folders first, then the Hub.
 *
 * @param client The client, or a function making it on first use (so that settings are read,
 * and permissions asked for, only when an id is given).
 * @param isLocal Whether a local folder or file of that name exists.
 * @returns The resolver.
 */
export function hubResolver(
  client: HubClient | (() => HubClient),
  isLocal: (name: string) => Promise<boolean>,
): SourceResolver {
  let made: HubClient | null = typeof client === "function" ? null : client;
  return async (name, kind, options) => {
    if (await isLocal(name) || !isRepoId(name)) return name;
    made ??= (client as () => HubClient)();
    try {
      return await fetchFromHub(made, name, kind, options);
    } catch (error) {
      if (error instanceof HubError && error.code === "RepoNotFound") {
        throw new HubError(error.code, `no local folder '${name}', and ${error.message}`);
      }
      throw error;
    }
  };
}
