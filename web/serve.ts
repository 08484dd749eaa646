/**
 * `deno task web`: serves the built page (web/dist) and the bundled model (models/) on
 * 127.0.0.1. It only reads files; nothing the page does reaches the server.
 *
 * @module
 */

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  json: "application/json",
  md: "text/markdown; charset=utf-8",
  png: "image/png",
};

/** Options of {@link serveWeb}. */
export interface ServeOptions {
  /** The built page (web/dist by default). */
  dist?: string;
  /** The folder whose `models/` the page's model URLs read (the repository by default). */
  root?: string;
  /** Port (0: any free one). */
  port?: number;
}

/**
 * Serves the page.
 *
 * @param options Folders and port.
 * @returns The server (its `addr` has the port).
 * @example
 * ```ts ignore
 * import { serveWeb } from "./serve.ts";
 * const server = serveWeb({ port: 0 });
 * console.log((server.addr as Deno.NetAddr).port);
 * ```
 */
export function serveWeb(options: ServeOptions = {}): Deno.HttpServer {
  const dist = options.dist ?? new URL("dist", import.meta.url).pathname;
  const root = options.root ?? new URL("..", import.meta.url).pathname;
  return Deno.serve(
    { hostname: "127.0.0.1", port: options.port ?? 8000, onListen() {} },
    async (request) => {
      const path = decodeURIComponent(new URL(request.url).pathname);
      if (path.split("/").includes("..")) return new Response("bad path", { status: 400 });
      const file = path === "/"
        ? `${dist}/index.html`
        : path.startsWith("/models/")
        ? `${root}${path}`
        : `${dist}${path}`;
      try {
        const body = await Deno.readFile(file);
        const type = TYPES[file.split(".").pop()!] ?? "application/octet-stream";
        return new Response(body, { headers: { "content-type": type } });
      } catch {
        return new Response("not found", { status: 404 });
      }
    },
  );
}

if (import.meta.main) {
  const i = Deno.args.indexOf("--port");
  const port = i >= 0 ? Number(Deno.args[i + 1]) : 8000;
  const server = serveWeb({ port });
  console.log(`Tessera in the browser: http://127.0.0.1:${(server.addr as Deno.NetAddr).port}/`);
}
