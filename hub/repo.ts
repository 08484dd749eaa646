/**
 * Repository ids, their cache folder names and the Hub's URLs, as huggingface_hub builds them
 * (`repo_folder_name`, `hf_hub_url`, version 1.29).
 *
 * @module
 */

/** A model or a dataset repository. */
export type RepoType = "model" | "dataset";

/** One repository at one revision. */
export interface RepoRef {
  /** "org/name" (or a bare "name", which the Hub redirects). */
  id: string;
  /** Model or dataset. */
  type: RepoType;
  /** Branch, tag or commit ("main" by default). */
  revision?: string;
}

const ID = /^(?:[A-Za-z0-9][\w.-]*\/)?[A-Za-z0-9][\w.-]*$/;

/**
 * Whether a string has the shape of a Hub id ("org/name" or "name", no `..`, no leading
 * `.`/`/`): the names that may be looked up on the Hub when no local folder has them.
 *
 * @param name The string.
 * @returns True for an id.
 * @example
 * ```ts
 * import { isRepoId } from "./repo.ts";
 * console.log(isRepoId("google/vit-base-patch16-224"), isRepoId("./my-model")); // true false
 * ```
 */
export function isRepoId(name: string): boolean {
  return ID.test(name) && !name.includes("..") && !name.endsWith(".git") && name.length <= 96;
}

/**
 * Whether a revision is a full commit hash (40 hex digits), which needs no `refs/` entry.
 *
 * @param revision The revision.
 * @returns True for a commit hash.
 */
export function isCommitHash(revision: string): boolean {
  return /^[0-9a-f]{40}$/.test(revision);
}

/**
 * The repository's folder in the cache: `models--org--name` or `datasets--org--name`.
 *
 * @param repo The repository.
 * @returns The folder name.
 * @example
 * ```ts
 * import { repoFolderName } from "./repo.ts";
 * console.log(repoFolderName({ id: "AI-Lab-Makerere/beans", type: "dataset" }));
 * // "datasets--AI-Lab-Makerere--beans"
 * ```
 */
export function repoFolderName(repo: RepoRef): string {
  return `${repo.type}s--${repo.id.replaceAll("/", "--")}`;
}

/** "model 'org/name'" or "dataset 'org/name'", for messages. */
export function describeRepo(repo: RepoRef): string {
  return `${repo.type} '${repo.id}'`;
}

/**
 * `{endpoint}/{datasets/}{id}/resolve/{revision}/{path}`, with the revision quoted whole and
 * the path quoted segment by segment.
 *
 * @param endpoint The Hub's base URL.
 * @param repo The repository.
 * @param revision The revision.
 * @param path The file in the repository.
 * @returns The URL.
 * @example
 * ```ts
 * import { resolveUrl } from "./repo.ts";
 * console.log(resolveUrl("https://huggingface.co", { id: "a/b", type: "dataset" }, "main",
 *   "data/train-00000-of-00001.parquet"));
 * // https://huggingface.co/datasets/a/b/resolve/main/data/train-00000-of-00001.parquet
 * ```
 */
export function resolveUrl(
  endpoint: string,
  repo: RepoRef,
  revision: string,
  path: string,
): string {
  const prefix = repo.type === "dataset" ? "datasets/" : "";
  const file = path.split("/").map(encodeURIComponent).join("/");
  return `${endpoint}/${prefix}${repo.id}/resolve/${encodeURIComponent(revision)}/${file}`;
}

/**
 * `{endpoint}/api/{models|datasets}/{id}/revision/{revision}`: the commit and the file list.
 *
 * @param endpoint The Hub's base URL.
 * @param repo The repository.
 * @param revision The revision.
 * @returns The URL.
 */
export function revisionApiUrl(endpoint: string, repo: RepoRef, revision: string): string {
  return `${endpoint}/api/${repo.type}s/${repo.id}/revision/${encodeURIComponent(revision)}`;
}

/**
 * `{endpoint}/api/{models|datasets}/{id}/tree/{revision}?recursive=true`: every file with its
 * size and, for LFS files, its sha256.
 *
 * @param endpoint The Hub's base URL.
 * @param repo The repository.
 * @param revision The revision (a commit, so the list matches the files).
 * @returns The URL.
 */
export function treeApiUrl(endpoint: string, repo: RepoRef, revision: string): string {
  return `${endpoint}/api/${repo.type}s/${repo.id}/tree/${
    encodeURIComponent(revision)
  }?recursive=true`;
}
