/**
 * The Hub's errors, one class each, chosen in one place from the response's `X-Error-Code`
 * (as huggingface_hub's `hf_raise_for_status`). Each message is one line that says what to do,
 * and never holds the token.
 *
 * @module
 */

import { describeRepo, type RepoRef } from "./repo.ts";

/** Any error of the Hub client; `code` is the Hub's `X-Error-Code` or the client's own. */
export class HubError extends Error {
  /**
   * Creates the error.
   *
   * @param code A short name ("RepoNotFound", "Offline", "Checksum").
   * @param message One line that says what was wrong and what to do.
   */
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = "HubError";
  }
}

/** The server cannot be reached (no network, DNS, refused): the cache is tried instead. */
export class HubUnreachableError extends HubError {
  /**
   * Creates the error.
   *
   * @param endpoint The server.
   * @param reason The network error's message.
   */
  constructor(readonly endpoint: string, reason: string) {
    super("Unreachable", `cannot reach ${endpoint} (${reason})`);
    this.name = "HubUnreachableError";
  }
}

/** A file asked for does not exist in the repository at that revision. */
export class EntryNotFoundError extends HubError {
  /**
   * Creates the error.
   *
   * @param repo The repository.
   * @param path The file.
   * @param commit The commit the server answered for, when it said.
   */
  constructor(repo: RepoRef, readonly path: string, readonly commit?: string) {
    super(
      "EntryNotFound",
      `${describeRepo(repo)} has no file '${path}' at revision '${repo.revision ?? "main"}'`,
    );
    this.name = "EntryNotFoundError";
  }
}

/**
 * The error a failed response stands for, from its `X-Error-Code` (and its status where the
 * Hub sends none: a 401 or 404 on a repository that does not exist or is private).
 *
 * @param response The response (status ≥ 400).
 * @param repo The repository.
 * @param endpoint The Hub's base URL, for messages.
 * @param path The file, when one was asked for.
 * @param hasToken Whether a token was sent (a gated repo's advice differs).
 * @returns The error to throw.
 * @example
 * ```ts
 * import { errorFromResponse } from "./errors.ts";
 * const r = new Response(null, { status: 404, headers: { "X-Error-Code": "RepoNotFound" } });
 * console.log(errorFromResponse(r, { id: "a/b", type: "model" }, "https://hf.co").code);
 * // "RepoNotFound"
 * ```
 */
export function errorFromResponse(
  response: Response,
  repo: RepoRef,
  endpoint: string,
  path?: string,
  hasToken = false,
): HubError {
  const code = response.headers.get("X-Error-Code");
  const what = describeRepo(repo);
  const revision = repo.revision ?? "main";
  if (code === "RevisionNotFound") {
    return new HubError(
      code,
      `${what} has no revision '${revision}': give an existing branch, tag or commit hash`,
    );
  }
  if (code === "EntryNotFound" && path !== undefined) {
    return new EntryNotFoundError(repo, path, response.headers.get("X-Repo-Commit") ?? undefined);
  }
  if (code === "GatedRepo") {
    return new HubError(
      code,
      `${what} is gated: accept its terms at ${endpoint}/${
        repo.type === "dataset" ? "datasets/" : ""
      }${repo.id} and ` +
        (hasToken
          ? "check that HF_TOKEN belongs to the account that accepted them"
          : "set HF_TOKEN (or $HF_HOME/token) to a token of that account"),
    );
  }
  if (
    code === "RepoNotFound" || response.status === 401 ||
    (response.status === 404 && path === undefined)
  ) {
    return new HubError(
      "RepoNotFound",
      `${what} not found on ${endpoint}: check the id` +
        (hasToken ? "; the token given cannot read it if it is private" : "; if it is private, " +
          "set HF_TOKEN to a token that can read it"),
    );
  }
  if (response.status === 404 && path !== undefined) return new EntryNotFoundError(repo, path);
  if (response.status === 403) {
    return new HubError("Forbidden", `${what}: access refused by ${endpoint} (HTTP 403)`);
  }
  return new HubError(
    `HTTP${response.status}`,
    `${what}${path ? ` ${path}` : ""}: ${endpoint} answered HTTP ${response.status}` +
      (response.status >= 500 || response.status === 429 ? " after retries; try again later" : ""),
  );
}
