import assert from "node:assert/strict";
import { readBodyInto, STREAM_CHUNK, streamOf } from "./read_body.ts";

function chunked(parts: number[][]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(c) {
      for (const p of parts) c.enqueue(new Uint8Array(p));
      c.close();
    },
  });
}

Deno.test("readBodyInto() fills one buffer of the announced size from the chunks", async () => {
  const bytes = await readBodyInto(chunked([[1, 2], [3], [4, 5, 6]]), 6, "w.bin");
  assert.deepEqual([...bytes], [1, 2, 3, 4, 5, 6]);
  assert.equal(bytes.buffer.byteLength, 6);
  assert.equal((await readBodyInto(null, 0, "empty")).length, 0);
});

Deno.test("readBodyInto() refuses a body longer or shorter than announced, naming the file", async () => {
  await assert.rejects(
    readBodyInto(chunked([[1, 2], [3, 4]]), 3, "w.bin"),
    /^Error: w\.bin: more than the 3 bytes announced$/,
  );
  await assert.rejects(
    readBodyInto(chunked([[1, 2]]), 3, "w.bin"),
    /^Error: w\.bin: 2 bytes of the 3 announced$/,
  );
});

Deno.test("streamOf() gives views of the bytes in chunks, not copies", async () => {
  const bytes = new Uint8Array(2 * STREAM_CHUNK + 5).map((_, i) => i & 255);
  const chunks: Uint8Array[] = [];
  for await (const c of streamOf(bytes)) chunks.push(c);
  assert.deepEqual(chunks.map((c) => c.length), [STREAM_CHUNK, STREAM_CHUNK, 5]);
  assert.ok(chunks.every((c) => c.buffer === bytes.buffer), "views of the same buffer");
  assert.deepEqual(await readBodyInto(streamOf(bytes), bytes.length, "x"), bytes);
  assert.equal((await new Response(streamOf(new Uint8Array(0))).arrayBuffer()).byteLength, 0);
});
