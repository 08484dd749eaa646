/**
 * A response body read into one buffer of the size announced beforehand, chunk by chunk, so that
 * a large file is held once: never as a list of chunks joined later, nor as the copy
 * `Response.arrayBuffer()` makes next to another. The browser's Hub cache reads its blobs this
 * way before handing the buffer to the file system the loaders read.
 *
 * @module
 */

/** Bytes per chunk when a buffer is streamed back out (what a network read gives at most). */
export const STREAM_CHUNK = 1 << 16;

/**
 * Reads a body into a new buffer of exactly `size` bytes.
 *
 * @param body The body's stream (null for an empty body).
 * @param size The bytes announced (`Content-Length`, `X-Linked-Size`).
 * @param where The file, for errors.
 * @returns The bytes: a `Uint8Array` over its own `ArrayBuffer` of `size` bytes.
 * @throws {Error} When the body is longer or shorter than announced, naming the file.
 * @example
 * ```ts
 * import { readBodyInto } from "./read_body.ts";
 * const bytes = await readBodyInto(new Response("abc").body, 3, "a.txt");
 * console.log(bytes.length, bytes.buffer.byteLength); // 3 3
 * ```
 */
export async function readBodyInto(
  body: ReadableStream<Uint8Array> | null,
  size: number,
  where: string,
): Promise<Uint8Array> {
  const out = new Uint8Array(size);
  let at = 0;
  for await (const chunk of body ?? []) {
    // Leaving the loop by a throw cancels the stream.
    if (at + chunk.length > size) {
      throw new Error(`${where}: more than the ${size} bytes announced`);
    }
    out.set(chunk, at);
    at += chunk.length;
  }
  if (at !== size) throw new Error(`${where}: ${at} bytes of the ${size} announced`);
  return out;
}

/**
 * A stream of views over `bytes` (no copy), to store a buffer with `Cache.put` without
 * `new Response(bytes)`, which copies its body.
 *
 * @param bytes The bytes.
 * @returns A stream giving them in chunks of {@link STREAM_CHUNK} bytes.
 * @example
 * ```ts
 * import { streamOf } from "./read_body.ts";
 * console.log((await new Response(streamOf(new Uint8Array(5))).arrayBuffer()).byteLength); // 5
 * ```
 */
export function streamOf(bytes: Uint8Array): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= bytes.length) {
        controller.close();
        return;
      }
      const end = Math.min(bytes.length, at + STREAM_CHUNK);
      controller.enqueue(bytes.subarray(at, end));
      at = end;
    },
  });
}
