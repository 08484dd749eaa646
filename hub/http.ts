/**
 * The Hub's HTTP, as huggingface_hub speaks it (`utils/_http.py`, `file_download.py`,
 * version 1.29): the token only as `Authorization` to the endpoint's host, redirects followed
 * by hand (the header dropped when the host changes), retries on 408/429/5xx with exponential
 * backoff that honours `Retry-After`, and the file metadata of a `HEAD …/resolve/…`. The fetch
 * function is a parameter, so the same code runs in Deno, in a browser and against a test
 * server.
 *
 * @module
 */

import { errorFromResponse, HubError, HubUnreachableError } from "./errors.ts";
import { describeRepo, type RepoRef } from "./repo.ts";

/** The subset of `fetch` the client uses. */
export type FetchLike = (url: string, init?: RequestInit) => Promise<Response>;

/** How requests are made. */
export interface HttpContext {
  /** The fetch function. */
  fetch: FetchLike;
  /** The Hub's base URL. */
  endpoint: string;
  /** The token (sent only to the endpoint's host). */
  token?: string;
  /** Retries after the first try on 408/429/5xx (5 by default, as huggingface_hub). */
  maxRetries?: number;
  /** Waits; tests shorten it. */
  sleep?: (ms: number) => Promise<void>;
  /**
   * Whether redirects can be read (`redirect: "manual"` gives the 3xx itself): true in Deno;
   * false in a browser, where the fetch follows them and drops `Authorization` across origins.
   */
  manualRedirects?: boolean;
}

/** Status codes retried, as huggingface_hub's `_DEFAULT_RETRY_ON_STATUS_CODES`. */
export const RETRY_STATUS: readonly number[] = [408, 429, 500, 502, 503, 504];

/** What a `HEAD …/resolve/{revision}/{path}` tells about a file. */
export interface FileMetadata {
  /** The commit the revision points at (`X-Repo-Commit`). */
  commit: string;
  /** The blob's id: the sha256 of an LFS file, else the git blob hash (quotes removed). */
  etag: string;
  /** Bytes (`X-Linked-Size`, else `Content-Length`). */
  size: number;
  /** Where the bytes are (the CDN for LFS files, else the resolve URL itself). */
  location: string;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** huggingface_hub's `_normalize_etag`: drops a weak `W/` prefix and the quotes. */
export function normalizeEtag(etag: string | null): string | null {
  return etag === null ? null : etag.replace(/^W\//, "").replace(/^"|"$/g, "");
}

/** Seconds of `Retry-After` when it is a number (dates are ignored, as huggingface_hub). */
function retryAfter(response: Response): number | null {
  const value = response.headers.get("Retry-After")?.trim();
  return value && /^\d+$/.test(value) ? Number(value) : null;
}

function hostOf(url: string): string {
  return new URL(url).host;
}

/**
 * One request with retries: 408, 429 and 5xx are retried after 1, 2, 4, 8, 8 s (or the
 * server's `Retry-After`), and a network failure becomes {@link HubUnreachableError}. The
 * token goes only to the endpoint's host.
 *
 * @param ctx How requests are made.
 * @param url The URL.
 * @param init Method and headers.
 * @returns The response (any status, redirects not followed when `manualRedirects`).
 * @throws {HubUnreachableError} When the server cannot be reached.
 */
export async function request(
  ctx: HttpContext,
  url: string,
  init: { method?: string; headers?: Record<string, string> } = {},
): Promise<Response> {
  const headers = new Headers(init.headers);
  if (ctx.token && hostOf(url) === hostOf(ctx.endpoint)) {
    headers.set("Authorization", `Bearer ${ctx.token}`);
  }
  const sleep = ctx.sleep ?? defaultSleep;
  const maxRetries = ctx.maxRetries ?? 5;
  for (let attempt = 0;; attempt++) {
    let response: Response;
    try {
      response = await ctx.fetch(url, {
        method: init.method ?? "GET",
        headers,
        redirect: ctx.manualRedirects === false ? "follow" : "manual",
      });
    } catch (error) {
      if (error instanceof HubError) throw error;
      if (error instanceof DOMException && error.name === "AbortError") throw error;
      throw new HubUnreachableError(ctx.endpoint, firstLine(error));
    }
    if (!RETRY_STATUS.includes(response.status) || attempt >= maxRetries) return response;
    await response.body?.cancel();
    const wait = retryAfter(response) ?? Math.min(8, 2 ** attempt);
    await sleep(wait * 1000);
  }
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0].replace(/^error sending request for url \([^)]*\): /, "");
}

/**
 * Follows redirects from `url` by hand: same-host (relative) ones always, as a renamed repo's
 * ("beans" → "AI-Lab-Makerere/beans"); cross-host ones (the CDN) only when `crossHost`, and
 * then without the token.
 *
 * @param ctx How requests are made.
 * @param url The first URL.
 * @param init Method and headers.
 * @param crossHost Whether to follow a redirect to another host.
 * @returns The final response and its URL.
 */
export async function requestFollowing(
  ctx: HttpContext,
  url: string,
  init: { method?: string; headers?: Record<string, string> },
  crossHost: boolean,
): Promise<{ response: Response; url: string }> {
  let current = url;
  for (let hops = 0; hops < 10; hops++) {
    const response = await request(ctx, current, init);
    if (ctx.manualRedirects === false) return { response, url: response.url || current };
    const location = response.headers.get("Location");
    if (response.status < 300 || response.status >= 400 || !location) {
      return { response, url: current };
    }
    const next = new URL(location, current).href;
    if (hostOf(next) !== hostOf(current) && !crossHost) return { response, url: current };
    await response.body?.cancel();
    current = next;
  }
  throw new HubError("Redirects", `${url}: too many redirects`);
}

/**
 * `HEAD {endpoint}/{repo}/resolve/{revision}/{path}`: the commit, etag, size and location of
 * a file, as huggingface_hub's `get_hf_file_metadata`.
 *
 * @param ctx How requests are made.
 * @param repo The repository.
 * @param url The resolve URL.
 * @param path The file, for messages.
 * @returns The metadata.
 * @throws {HubError} The Hub's error (RepoNotFound, RevisionNotFound, EntryNotFound,
 * GatedRepo…), or a response that lacks the headers.
 */
export async function fileMetadata(
  ctx: HttpContext,
  repo: RepoRef,
  url: string,
  path: string,
): Promise<FileMetadata> {
  const { response, url: final } = await requestFollowing(
    ctx,
    url,
    { method: "HEAD", headers: { "Accept-Encoding": "identity" } },
    false,
  );
  await response.body?.cancel();
  if (response.status >= 400) {
    throw errorFromResponse(response, repo, ctx.endpoint, path, ctx.token !== undefined);
  }
  const h = response.headers;
  const commit = h.get("X-Repo-Commit");
  const etag = normalizeEtag(h.get("X-Linked-Etag") ?? h.get("ETag"));
  const size = Number(h.get("X-Linked-Size") ?? h.get("Content-Length") ?? NaN);
  const where = `${describeRepo(repo)} ${path}`;
  if (!commit) {
    throw new HubError(
      "Metadata",
      `${where}: ${ctx.endpoint} sent no X-Repo-Commit; is HF_ENDPOINT a Hugging Face Hub?`,
    );
  }
  if (!etag) throw new HubError("Metadata", `${where}: the server sent no ETag`);
  if (!Number.isFinite(size)) throw new HubError("Metadata", `${where}: the server sent no size`);
  const location = h.get("Location");
  return { commit, etag, size, location: location ? new URL(location, final).href : final };
}
