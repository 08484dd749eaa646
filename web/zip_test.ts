import assert from "node:assert/strict";
import { unzipSync } from "fflate";
import { crc32, zipStored } from "./zip.ts";

Deno.test("crc32() gives the standard check value", () => {
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
  assert.equal(crc32(new Uint8Array()), 0);
});

Deno.test("zipStored() writes an archive that another zip reader reads back unchanged", () => {
  const data = new Uint8Array(70_000).map((_, i) => (i * 31) & 0xff);
  const json = new TextEncoder().encode('{"a": 1}\n');
  const zip = zipStored([
    { name: "config.json", data: json },
    { name: "model.safetensors", data },
    { name: "dossier/é.txt", data: new Uint8Array() },
  ]);
  const read = unzipSync(zip);
  assert.deepEqual(Object.keys(read), ["config.json", "model.safetensors", "dossier/é.txt"]);
  assert.deepEqual(read["config.json"], json);
  assert.deepEqual(read["model.safetensors"], data);
  assert.equal(read["dossier/é.txt"].length, 0);
  // fflate does not check CRCs: read them from the central directory, against crc32's check value.
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const crcs: number[] = [];
  for (let i = 0; i + 46 <= zip.length; i++) {
    if (view.getUint32(i, true) === 0x02014b50) crcs.push(view.getUint32(i + 16, true));
  }
  assert.deepEqual(crcs, [crc32(json), crc32(data), 0]);
});
