/**
 * Test helper: a local server that speaks the Hugging Face Hub's API from fixture repositories,
 * with a CDN on a second port for LFS files, and faults to inject. It answers what
 * huggingface_hub (version 1.29) asks: `HEAD/GET /{id}/resolve/{revision}/{path}` (with
 * `X-Repo-Commit`, `X-Linked-Etag`, `X-Linked-Size` and a 302 to the CDN for LFS files),
 * `GET /api/{models|datasets}/{id}/revision/{revision}` and `…/tree/{revision}` (in pages
 * linked by `Link: <…>; rel="next"` when {@link HubTestServer.treePageSize} is set), errors with
 * `X-Error-Code`, a renamed repository's 307 (`beans` → `AI-Lab-Makerere/beans`), and branches
 * other than `main`, each at its own commit.
 *
 * @module
 */

/**
 * The CDN's address: another loopback address than the hub's, so that it is another host, as
 * huggingface_hub (which compares host names, not ports) and the token rule see a real CDN.
 */
export const CDN_HOST = "127.0.0.2";

/** A fixture repository. */
export interface FixtureRepo {
  /** "models" or "datasets". */
  type: "models" | "datasets";
  /** "org/name". */
  id: string;
  /** Its files. */
  files: Record<string, Uint8Array>;
  /** Gated: files need `Authorization: Bearer <token>`. */
  gated?: boolean;
  /** Old names that redirect to it (as the Hub's renamed repos). */
  aliases?: string[];
  /** Other branches (or tags) and their files; each gets its own commit. */
  branches?: Record<string, Record<string, Uint8Array>>;
  /** The revision API lists no `siblings` (clients must read the tree). */
  noSiblings?: boolean;
}

/** Faults to inject; each is consumed as it fires. */
export interface Faults {
  /** Cut the connection after this many bytes of a CDN body, once per file path. */
  cutAfter: Map<string, number>;
  /** Flip one byte of a CDN body for these paths (every time). */
  corrupt: Set<string>;
  /** Answer 429 (`Retry-After: 1`) this many times to a HEAD of a path. */
  rateLimit: Map<string, number>;
  /** Answer 503 this many times to a HEAD of a path. */
  unavailable: Map<string, number>;
  /** Ignore `Range` (send the whole file with 200). */
  ignoreRange: boolean;
  /** Milliseconds between CDN chunks of 4 KiB (to make two downloads overlap). */
  chunkDelayMs: number;
}

/** A request the server saw. */
export interface SeenRequest {
  /** "hub" or "cdn". */
  server: "hub" | "cdn";
  /** Method. */
  method: string;
  /** Path and query. */
  path: string;
  /** The Authorization header, if any. */
  authorization: string | null;
  /** The Range header, if any. */
  range: string | null;
  /** The status answered. */
  status: number;
}

async function sha256Hex(data: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", data as BufferSource));
  return [...d].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function gitBlobSha1(data: Uint8Array): Promise<string> {
  const head = new TextEncoder().encode(`blob ${data.length}\0`);
  const all = new Uint8Array(head.length + data.length);
  all.set(head);
  all.set(data, head.length);
  const d = new Uint8Array(await crypto.subtle.digest("SHA-1", all as BufferSource));
  return [...d].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Files this large or with these extensions are LFS files (served from the CDN). */
function isLfs(path: string, data: Uint8Array): boolean {
  return data.length > 1024 || /\.(safetensors|parquet|bin)$/.test(path);
}

interface Blob {
  data: Uint8Array;
  etag: string;
  lfs: boolean;
}

/** One branch of a repository: its commit and files. */
interface Revision {
  commit: string;
  blobs: Map<string, Blob>;
}

/** The running fake Hub. */
export class HubTestServer {
  /** Every request, in order. */
  readonly requests: SeenRequest[] = [];
  /** Faults to inject. */
  readonly faults: Faults = {
    cutAfter: new Map(),
    corrupt: new Set(),
    rateLimit: new Map(),
    unavailable: new Map(),
    ignoreRange: false,
    chunkDelayMs: 0,
  };
  /** The commit every fixture repository's `main` is at. */
  readonly commits = new Map<string, string>();
  /** Entries per page of the tree API (0: one page); pages are linked by a `Link` header. */
  treePageSize = 0;
  readonly #repos = new Map<string, FixtureRepo>();
  readonly #aliases = new Map<string, string>();
  readonly #revisions = new Map<string, Map<string, Revision>>();
  readonly #bySha = new Map<string, { data: Uint8Array; path: string }>();
  #hub!: Deno.HttpServer<Deno.NetAddr>;
  #cdn!: Deno.HttpServer<Deno.NetAddr>;

  /**
   * Creates the server (not started).
   *
   * @param repos The fixture repositories.
   * @param token The token that opens gated repositories.
   */
  constructor(repos: FixtureRepo[], readonly token = "hf_testTOKEN_abcdefghijklmnop") {
    for (const r of repos) {
      this.#repos.set(`${r.type}/${r.id}`, r);
      for (const a of r.aliases ?? []) this.#aliases.set(`${r.type}/${a}`, r.id);
    }
  }

  /** The hub's base URL (`HF_ENDPOINT`). */
  get endpoint(): string {
    return `http://127.0.0.1:${this.#hub.addr.port}`;
  }

  /** The CDN's host:port. */
  get cdnHost(): string {
    return `${CDN_HOST}:${this.#cdn.addr.port}`;
  }

  /** Starts the hub on a free port of 127.0.0.1 and the CDN on one of 127.0.0.2. */
  async start(): Promise<this> {
    for (const [key, repo] of this.#repos) {
      const revisions = new Map<string, Revision>();
      for (const [branch, files] of Object.entries({ ...repo.branches, main: repo.files })) {
        const blobs = new Map<string, Blob>();
        let all = key;
        for (const [path, data] of Object.entries(files)) {
          const lfs = isLfs(path, data);
          const etag = lfs ? await sha256Hex(data) : await gitBlobSha1(data);
          blobs.set(path, { data, etag, lfs });
          if (lfs) this.#bySha.set(etag, { data, path });
          all += path + etag;
        }
        revisions.set(branch, { commit: await gitBlobSha1(new TextEncoder().encode(all)), blobs });
      }
      this.#revisions.set(key, revisions);
      this.commits.set(key, revisions.get("main")!.commit);
    }
    const quiet = () => {};
    this.#cdn = Deno.serve(
      { hostname: CDN_HOST, port: 0, onListen: quiet },
      (req) => this.#serveCdn(req),
    );
    this.#hub = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: quiet },
      (req) => this.#serveHub(req),
    );
    return this;
  }

  /** Stops both servers. */
  async stop(): Promise<void> {
    await this.#hub.shutdown();
    await this.#cdn.shutdown();
  }

  /** The etag of a fixture file (on `main`, or on another branch). */
  etag(type: "models" | "datasets", id: string, path: string, branch = "main"): string {
    return this.#revisions.get(`${type}/${id}`)!.get(branch)!.blobs.get(path)!.etag;
  }

  /** The commit a branch of a fixture repository is at. */
  commitOf(type: "models" | "datasets", id: string, branch: string): string {
    return this.#revisions.get(`${type}/${id}`)!.get(branch)!.commit;
  }

  #record(req: Request, server: "hub" | "cdn", response: Response): Response {
    const url = new URL(req.url);
    // CORS as the Hub sends it, so that a page can fetch and read the headers.
    response.headers.set("Access-Control-Allow-Origin", "*");
    response.headers.set(
      "Access-Control-Expose-Headers",
      "X-Repo-Commit, X-Linked-Etag, X-Linked-Size, X-Error-Code, ETag, Content-Range, Location, " +
        "Link",
    );
    this.requests.push({
      server,
      method: req.method,
      path: url.pathname + url.search,
      authorization: req.headers.get("Authorization"),
      range: req.headers.get("Range"),
      status: response.status,
    });
    return response;
  }

  #error(status: number, code: string | null, extra: Record<string, string> = {}): Response {
    const headers: Record<string, string> = { ...extra };
    if (code) headers["X-Error-Code"] = code;
    return new Response(code ?? "error", { status, headers });
  }

  #serveHub(req: Request): Response {
    const url = new URL(req.url);
    if (req.method === "OPTIONS") return this.#preflight(req);
    return this.#record(req, "hub", this.#answerHub(req, url));
  }

  #answerHub(req: Request, url: URL): Response {
    const parts = url.pathname.split("/").filter((p) => p !== "").map(decodeURIComponent);
    const api = parts[0] === "api";
    let type: "models" | "datasets" = "models";
    let rest = api ? parts.slice(1) : parts;
    if (api) {
      type = rest[0] as "models" | "datasets";
      rest = rest.slice(1);
    } else if (rest[0] === "datasets") {
      type = "datasets";
      rest = rest.slice(1);
    }
    const marker = rest.findIndex((p) => p === "resolve" || p === "revision" || p === "tree");
    if (marker < 1) return this.#error(404, null);
    const id = rest.slice(0, marker).join("/");
    const action = rest[marker];
    const revision = rest[marker + 1];
    const path = rest.slice(marker + 2).join("/");
    const alias = this.#aliases.get(`${type}/${id}`);
    if (alias) {
      // Relative redirect, as the Hub answers for a renamed repository.
      const location = url.pathname.replace(`/${id}/`, `/${alias}/`) + url.search;
      return new Response(null, { status: 307, headers: { Location: location } });
    }
    const key = `${type}/${id}`;
    const repo = this.#repos.get(key);
    if (!repo) return this.#error(404, "RepoNotFound");
    const revisions = this.#revisions.get(key)!;
    const found = revisions.get(revision) ??
      [...revisions.values()].find((r) => r.commit === revision);
    if (!found) return this.#error(404, "RevisionNotFound");
    const { commit, blobs } = found;
    if (repo.gated && req.headers.get("Authorization") !== `Bearer ${this.token}`) {
      return this.#error(req.headers.get("Authorization") ? 403 : 401, "GatedRepo");
    }
    if (action === "revision") {
      return Response.json({
        id,
        sha: commit,
        siblings: repo.noSiblings ? [] : [...blobs.keys()].map((rfilename) => ({ rfilename })),
      });
    }
    if (action === "tree") return this.#tree(url, blobs);
    const blob = blobs.get(path);
    if (!blob) return this.#error(404, "EntryNotFound", { "X-Repo-Commit": commit });
    for (const [map, status] of [[this.faults.rateLimit, 429], [this.faults.unavailable, 503]]) {
      const left = (map as Map<string, number>).get(path) ?? 0;
      if (req.method === "HEAD" && left > 0) {
        (map as Map<string, number>).set(path, left - 1);
        return this.#error(status as number, null, { "Retry-After": "1" });
      }
    }
    const headers: Record<string, string> = { "X-Repo-Commit": commit };
    if (blob.lfs) {
      headers["X-Linked-Etag"] = `"${blob.etag}"`;
      headers["X-Linked-Size"] = String(blob.data.length);
      headers["ETag"] = `"not-the-blob"`;
      headers["Location"] = `http://${this.cdnHost}/blobs/${blob.etag}?expires=1`;
      return new Response(null, { status: 302, headers });
    }
    headers["ETag"] = `"${blob.etag}"`;
    headers["Content-Length"] = String(blob.data.length);
    return new Response(req.method === "HEAD" ? null : blob.data as BodyInit, { headers });
  }

  /** One page of the tree; a `Link` header names the next (an opaque cursor, as the Hub's). */
  #tree(url: URL, blobs: Map<string, Blob>): Response {
    const entries = [...blobs].map(([p, b]) => ({
      type: "file",
      path: p,
      size: b.data.length,
      oid: b.etag,
      ...(b.lfs ? { lfs: { oid: b.etag, size: b.data.length, pointerSize: 134 } } : {}),
    }));
    if (this.treePageSize <= 0) return Response.json(entries);
    const cursor = url.searchParams.get("cursor");
    const start = cursor ? Number(atob(cursor)) : 0;
    const end = start + this.treePageSize;
    const headers: Record<string, string> = {};
    if (end < entries.length) {
      const next = new URL(url);
      next.searchParams.set("cursor", btoa(String(end)));
      headers.Link = `<${next.href}>; rel="next"`;
    }
    return Response.json(entries.slice(start, end), { headers });
  }

  #preflight(req: Request): Response {
    return this.#record(
      req,
      "hub",
      new Response(null, {
        status: 204,
        headers: {
          "Access-Control-Allow-Methods": "GET, HEAD",
          "Access-Control-Allow-Headers": "Range, Authorization",
        },
      }),
    );
  }

  #serveCdn(req: Request): Response {
    if (req.method === "OPTIONS") return this.#preflight(req);
    return this.#record(req, "cdn", this.#answerCdn(req));
  }

  #answerCdn(req: Request): Response {
    const sha = new URL(req.url).pathname.split("/").pop()!;
    const found = this.#bySha.get(sha);
    if (!found) return new Response("no such blob", { status: 404 });
    let data = found.data;
    if (this.faults.corrupt.has(found.path)) {
      data = data.slice();
      data[data.length >> 1] ^= 0x40;
    }
    let start = 0;
    const range = req.headers.get("Range")?.match(/^bytes=(\d+)-$/);
    if (range && !this.faults.ignoreRange) start = Number(range[1]);
    const cut = this.faults.cutAfter.get(found.path);
    if (cut !== undefined) this.faults.cutAfter.delete(found.path);
    const body = data.subarray(start);
    const delay = this.faults.chunkDelayMs;
    const stream = new ReadableStream<Uint8Array>({
      async start(controller) {
        for (let at = 0; at < body.length; at += 4096) {
          if (cut !== undefined && at + 4096 > cut) {
            controller.enqueue(body.subarray(at, cut));
            // Let the bytes go out, then cut: the body ends before its Content-Length.
            await new Promise((r) => setTimeout(r, 50));
            controller.error(new Error("connection cut by the test server"));
            return;
          }
          controller.enqueue(body.subarray(at, at + 4096));
          if (delay) await new Promise((r) => setTimeout(r, delay));
        }
        controller.close();
      },
    });
    const headers: Record<string, string> = { "Content-Length": String(body.length) };
    if (start > 0) headers["Content-Range"] = `bytes ${start}-${data.length - 1}/${data.length}`;
    return new Response(stream, { status: start > 0 ? 206 : 200, headers });
  }
}
