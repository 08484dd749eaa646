import assert from "node:assert/strict";
import { crc32, zipStored } from "./zip.ts";

Deno.test("crc32() gives the standard check value", () => {
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
  assert.equal(crc32(new Uint8Array()), 0);
});

Deno.test("zipStored() writes an archive that Python's zipfile reads back unchanged", async () => {
  const data = new Uint8Array(70_000).map((_, i) => (i * 31) & 0xff);
  const zip = zipStored([
    { name: "config.json", data: new TextEncoder().encode('{"a": 1}\n') },
    { name: "model.safetensors", data },
    { name: "dossier/é.txt", data: new Uint8Array() },
  ]);
  await Deno.mkdir(".cache/test", { recursive: true });
  const path = await Deno.makeTempFile({ dir: ".cache/test", suffix: ".zip" });
  try {
    await Deno.writeFile(path, zip);
    const script = "import sys, zipfile, hashlib, json\n" +
      "z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None\n" +
      "print(json.dumps({i.filename: [i.file_size, hashlib.sha256(z.read(i)).hexdigest()] " +
      "for i in z.infolist()}))";
    const { success, stdout, stderr } = await new Deno.Command("/usr/bin/python3", {
      args: ["-c", script, path],
    }).output();
    assert.ok(success, new TextDecoder().decode(stderr));
    const listed = JSON.parse(new TextDecoder().decode(stdout));
    const sha = async (b: Uint8Array) =>
      [...new Uint8Array(await crypto.subtle.digest("SHA-256", b as Uint8Array<ArrayBuffer>))]
        .map((x) => x.toString(16).padStart(2, "0")).join("");
    assert.deepEqual(Object.keys(listed), ["config.json", "model.safetensors", "dossier/é.txt"]);
    assert.deepEqual(listed["model.safetensors"], [70_000, await sha(data)]);
    assert.equal(listed["dossier/é.txt"][0], 0);
  } finally {
    await Deno.remove(path);
  }
});
