/**
 * A repository's file list and the download of all of it, as huggingface_hub's
 * `snapshot_download` (version 1.29): `GET /api/{models|datasets}/{id}/revision/{revision}`
 * gives the commit (`sha`) and the files (`siblings`); each file is then fetched at that commit,
 * and `refs/<revision>` records it. Offline, or when the server cannot be reached, the
 * revision is resolved through `refs/` and the cached snapshot served.
 *
 * @module
 */

import { cachedCommit, type HubClient, hubDownload } from "./download.ts";
import { HubError, HubUnreachableError } from "./errors.ts";
import { getHubJsonPage, getHubJsonPages } from "./pagination.ts";
import { describeRepo, repoFolderName, type RepoRef, revisionApiUrl, treeApiUrl } from "./repo.ts";

/** A repository at a commit: its files. */
export interface RepoListing {
  /** The commit the revision resolved to. */
  commit: string;
  /** The files, `/`-separated paths. */
  files: string[];
}

/**
 * A GET of the Hub's API, following same-host redirects, with the Hub's errors.
 *
 * @param client Settings and fetch.
 * @param repo The repository, for errors.
 * @param url The API URL.
 * @returns The parsed JSON.
 * @throws {HubError} RepoNotFound, RevisionNotFound, GatedRepo, unreachable, not JSON.
 */
export async function getHubJson(
  client: HubClient,
  repo: RepoRef,
  url: string,
): Promise<unknown> {
  return (await getHubJsonPage(client, repo, url)).json;
}

/**
 * The files of a repository at a revision: the revision API's `siblings`, or, when it gives
 * none, the recursive tree, every page of it.
 *
 * @param client Settings, cache and fetch.
 * @param repo The repository and revision.
 * @returns The commit and the files.
 * @throws {HubError} RepoNotFound, RevisionNotFound, GatedRepo, or unreachable.
 * @example
 * ```ts ignore
 * import { listRepoFiles } from "./snapshot.ts";
 * const { commit, files } = await listRepoFiles(client, { id: "beans", type: "dataset" });
 * ```
 */
export async function listRepoFiles(client: HubClient, repo: RepoRef): Promise<RepoListing> {
  const revision = repo.revision ?? "main";
  const info = await getHubJson(
    client,
    repo,
    revisionApiUrl(client.config.endpoint, repo, revision),
  );
  const { sha, siblings } = (info ?? {}) as { sha?: unknown; siblings?: unknown };
  if (typeof sha !== "string") {
    throw new HubError("Metadata", `${describeRepo(repo)}: the revision API gave no commit`);
  }
  if (Array.isArray(siblings) && siblings.length > 0) {
    return {
      commit: sha,
      files: siblings.map((s) => (s as { rfilename: string }).rfilename).filter((f) =>
        typeof f === "string"
      ),
    };
  }
  // The tree comes in pages (`Link: <…>; rel="next"`), all of which are read.
  const tree = await getHubJsonPages(client, repo, treeApiUrl(client.config.endpoint, repo, sha));
  return {
    commit: sha,
    files: (tree as { type?: unknown; path?: unknown }[])
      .filter((e) => e?.type === "file").map((e) => String(e.path)),
  };
}

/**
 * Every file of a repository at a revision, from the cache or downloaded into it.
 *
 * @param client Settings, cache and fetch.
 * @param repo The repository and revision ("main" by default).
 * @param filter Which files to fetch (all by default).
 * @returns The snapshot folder (`…/snapshots/<commit>`).
 * @throws {HubError} One line: the Hub's error, or nothing cached while offline.
 * @example
 * ```ts ignore
 * import { snapshotDownload } from "./snapshot.ts";
 * const dir = await snapshotDownload(client, { id: "AI-Lab-Makerere/beans", type: "dataset" });
 * ```
 */
export async function snapshotDownload(
  client: HubClient,
  repo: RepoRef,
  filter: (path: string) => boolean = () => true,
): Promise<string> {
  const revision = repo.revision ?? "main";
  const repoDir = repoFolderName(repo);
  let listing: RepoListing | null = null;
  let error: HubError | null = null;
  if (client.config.offline) error = new HubError("Offline", "HF_HUB_OFFLINE is set");
  else {
    try {
      listing = await listRepoFiles(client, repo);
    } catch (e) {
      if (!(e instanceof HubError) || e.code === "RevisionNotFound") throw e;
      error = e;
    }
  }
  if (!listing) {
    const commit = await cachedCommit(client, repo, revision);
    const dir = commit ? await client.storage.snapshotDir(repoDir, commit) : null;
    if (dir) return dir;
    if (error!.code === "Offline") {
      throw new HubError(
        "NotCached",
        `${describeRepo(repo)} at '${revision}' is not in the cache (${client.storage.root}) and ` +
          "HF_HUB_OFFLINE is set: run once with the network, or unset HF_HUB_OFFLINE",
      );
    }
    if (error instanceof HubUnreachableError) {
      throw new HubError(
        "NotCached",
        `${error.message}, and ${describeRepo(repo)} at '${revision}' is not in the cache ` +
          `(${client.storage.root}): check the network or HF_ENDPOINT`,
      );
    }
    throw error!;
  }
  for (const path of listing.files.filter(filter)) {
    await hubDownload(client, { ...repo, revision: listing.commit }, path);
  }
  if (revision !== listing.commit) {
    await client.storage.writeRef(repoDir, revision, listing.commit);
  }
  const dir = await client.storage.snapshotDir(repoDir, listing.commit);
  if (!dir) throw new HubError("Empty", `${describeRepo(repo)} has no files to download`);
  return dir;
}
