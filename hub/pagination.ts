/**
 * The Hub's paginated lists (`/api/{models|datasets}/{id}/tree/{revision}?recursive=true` among
 * them): each page is a JSON array, and a `Link: <url>; rel="next"` header names the next page
 * while there is one, as GitHub's. Followed as huggingface_hub's `paginate` does
 * (`utils/_pagination.py` at commit 6b424eea, version 1.x: `response.links["next"]["url"]`,
 * the next URL already carrying its query, the same headers sent to every page).
 *
 * @module
 */

import type { HubClient } from "./download.ts";
import { errorFromResponse, HubError } from "./errors.ts";
import { requestFollowing } from "./http.ts";
import { describeRepo, type RepoRef } from "./repo.ts";

/** Pages followed at most, so that a server linking a page to itself cannot loop forever. */
const MAX_PAGES = 10_000;

/**
 * The `rel="next"` URL of a `Link` header, resolved against the page's URL, as the `links`
 * property of a requests or httpx response reads it.
 *
 * @param link The header (`<https://…?cursor=x>; rel="next", <…>; rel="prev"`), or null.
 * @param base The URL of the page that carried it (for a relative link).
 * @returns The next page's URL, or null on the last page.
 * @example
 * ```ts
 * import { nextPageUrl } from "./pagination.ts";
 * console.log(nextPageUrl('</api/x?cursor=2>; rel="next"', "https://huggingface.co/api/x"));
 * // https://huggingface.co/api/x?cursor=2
 * ```
 */
export function nextPageUrl(link: string | null, base: string): string | null {
  if (!link) return null;
  // `<url>; param=value; …` entries separated by commas (a URL in <> holds no bare comma).
  for (const entry of link.matchAll(/<([^>]*)>([^,<]*)/g)) {
    const rels = [...entry[2].matchAll(/;\s*rel\s*=\s*"?([^";]*)"?/gi)]
      .flatMap((m) => m[1].trim().toLowerCase().split(/\s+/));
    if (rels.includes("next")) return new URL(entry[1].trim(), base).href;
  }
  return null;
}

/**
 * One GET of the Hub's API, following same-host redirects, with the Hub's errors.
 *
 * @param client Settings and fetch.
 * @param repo The repository, for errors.
 * @param url The API URL.
 * @returns The parsed JSON and the next page's URL (null when the answer has no next page).
 * @throws {HubError} RepoNotFound, RevisionNotFound, GatedRepo, unreachable, not JSON.
 */
export async function getHubJsonPage(
  client: HubClient,
  repo: RepoRef,
  url: string,
): Promise<{ json: unknown; next: string | null }> {
  const ctx = {
    fetch: client.fetch,
    endpoint: client.config.endpoint,
    token: client.config.token,
    sleep: client.sleep,
    manualRedirects: client.manualRedirects,
  };
  const { response, url: final } = await requestFollowing(ctx, url, {}, false);
  if (response.status >= 300) {
    await response.body?.cancel();
    throw errorFromResponse(response, repo, ctx.endpoint, undefined, ctx.token !== undefined);
  }
  let json: unknown;
  try {
    json = await response.json();
  } catch {
    throw new HubError("Metadata", `${describeRepo(repo)}: ${url} did not answer JSON`);
  }
  return { json, next: nextPageUrl(response.headers.get("Link"), final) };
}

/**
 * Every entry of a paginated list: the first page's array, then each `rel="next"` page's, in
 * order.
 *
 * @param client Settings and fetch.
 * @param repo The repository, for errors.
 * @param url The first page's URL.
 * @returns The entries of all pages.
 * @throws {HubError} The Hub's error on any page, or a page that is not a JSON array.
 * @example
 * ```ts ignore
 * import { getHubJsonPages } from "./pagination.ts";
 * const tree = await getHubJsonPages(client, repo, treeApiUrl(endpoint, repo, commit));
 * ```
 */
export async function getHubJsonPages(
  client: HubClient,
  repo: RepoRef,
  url: string,
): Promise<unknown[]> {
  const out: unknown[] = [];
  const seen = new Set<string>();
  for (let page: string | null = url; page !== null;) {
    if (seen.has(page) || seen.size >= MAX_PAGES) {
      throw new HubError("Metadata", `${describeRepo(repo)}: ${url} pages loop at ${page}`);
    }
    seen.add(page);
    const { json, next }: { json: unknown; next: string | null } = await getHubJsonPage(
      client,
      repo,
      page,
    );
    if (!Array.isArray(json)) {
      throw new HubError("Metadata", `${describeRepo(repo)}: ${page} did not answer a list`);
    }
    for (const entry of json) out.push(entry);
    page = next;
  }
  return out;
}
