import assert from "node:assert/strict";
import { MemoryFileSystem } from "./memory_fs.ts";
import {
  ensureWritableDir,
  exists,
  FileError,
  fileSystem,
  listDir,
  readBytes,
  readJson,
  useFileSystem,
  writeAtomic,
} from "./files.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array) => new TextDecoder().decode(data);

/** Asserts a FileError naming `path` with a reason matching `reason`. */
async function assertFileError(p: Promise<unknown>, path: string, reason: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof FileError, `a FileError, got ${e}`);
    assert.equal(e.path, path);
    assert.match(e.reason, reason);
    assert.equal(e.message, `${path}: ${e.reason}`);
    return true;
  });
}

Deno.test(
  "MemoryFileSystem.fromFiles() holds the files, with folders implied by their paths",
  async () => {
    const fs = MemoryFileSystem.fromFiles([
      { path: "beans/train/healthy/1.jpg", data: bytes("a") },
      { path: "./beans//train/rust/2.jpg", data: bytes("bb") },
      { path: "beans/README.md", data: bytes("ccc") },
    ]);
    assert.deepEqual(fs.paths(), [
      "beans/README.md",
      "beans/train/healthy/1.jpg",
      "beans/train/rust/2.jpg",
    ]);
    assert.equal(text(await fs.readFile("beans/train/rust/2.jpg")), "bb");
    assert.equal(text(await fs.readFile("beans/x/../train/rust/2.jpg")), "bb", "`..` goes up");
    assert.deepEqual(await fs.stat("beans/train"), { isDirectory: true, size: 0 });
    assert.deepEqual(await fs.stat("beans/README.md"), { isDirectory: false, size: 3 });
    assert.equal(await fs.stat("beans/val"), null);
    const top = (await fs.readDir("beans")).sort((a, b) => a.name.localeCompare(b.name));
    assert.deepEqual(top, [
      { name: "README.md", isDirectory: false },
      { name: "train", isDirectory: true },
    ]);
    assert.deepEqual(await fs.readDir(""), [{ name: "beans", isDirectory: true }]);
  },
);

Deno.test(
  "MemoryFileSystem names the file and the reason when it cannot read or write",
  async () => {
    const fs = MemoryFileSystem.fromFiles([{ path: "a/file", data: bytes("x") }]);
    await assertFileError(fs.readFile("a/missing"), "a/missing", /^file not found$/);
    await assertFileError(fs.readFile("a"), "a", /^is a directory$/);
    await assertFileError(fs.readDir("nowhere"), "nowhere", /^file not found$/);
    await assertFileError(fs.readDir("a/file"), "a/file", /^not a folder$/);
    await assertFileError(
      fs.writeFile("a/file/x", bytes("y")),
      "a/file/x",
      /parent is not a folder/,
    );
    await assertFileError(fs.mkdir("a/file/sub"), "a/file/sub", /parent is not a folder/);
    await assertFileError(fs.writeFile("a", bytes("y")), "a", /^is a directory$/);
    await assertFileError(fs.rename("a/none", "b"), "a/none", /file not found/);
  },
);

Deno.test("MemoryFileSystem writes copies, appends, and removes folders recursively", async () => {
  const fs = new MemoryFileSystem();
  const data = bytes("one");
  await fs.writeFile("out/x.bin", data);
  data[0] = 0;
  assert.equal(text(await fs.readFile("out/x.bin")), "one", "the caller's buffer is copied");
  const read = await fs.readFile("out/x.bin");
  read[0] = 0;
  assert.equal(text(await fs.readFile("out/x.bin")), "one", "reads return copies");
  await fs.appendFile("out/events", bytes("ab"));
  await fs.appendFile("out/events", bytes("cd"));
  assert.equal(text(await fs.readFile("out/events")), "abcd");
  await fs.mkdir("out/empty/deeper");
  assert.deepEqual(await fs.readDir("out/empty"), [{ name: "deeper", isDirectory: true }]);
  await fs.remove("out");
  await fs.remove("out");
  await fs.remove("never/was");
  assert.deepEqual(fs.paths(), []);
  assert.equal(await fs.stat("out/empty"), null, "explicit folders go too");
});

Deno.test("MemoryFileSystem.adoptFile() keeps the bytes given and reads them back uncopied", async () => {
  const fs = new MemoryFileSystem();
  const weights = bytes("weights");
  fs.adoptFile("hub/snap/model.safetensors", weights);
  assert.equal(await fs.readFile("hub/snap/model.safetensors"), weights, "the same bytes");
  assert.deepEqual(await fs.stat("hub/snap"), { isDirectory: true, size: 0 });
  await fs.rename("hub/snap", "hub/moved");
  assert.equal(await fs.readFile("hub/moved/model.safetensors"), weights, "moved, still shared");
  // Written again, the file holds a copy, as every written file does.
  await fs.writeFile("hub/moved/model.safetensors", weights);
  assert.notEqual(await fs.readFile("hub/moved/model.safetensors"), weights);
  assert.throws(() => fs.adoptFile("hub/moved/model.safetensors/x", weights), /not a folder/);
});

Deno.test(
  "MemoryFileSystem.rename() moves files and whole folders as a checkpoint save does",
  async () => {
    const fs = MemoryFileSystem.fromFiles([
      { path: "run/checkpoint-2.tmp-0/model.safetensors", data: bytes("new") },
      { path: "run/checkpoint-2.tmp-0/trainer_state.json", data: bytes("{}") },
      { path: "run/checkpoint-2/model.safetensors", data: bytes("old") },
      { path: "run/checkpoint-20/model.safetensors", data: bytes("other") },
    ]);
    await fs.rename("run/checkpoint-2", "run/checkpoint-2.old-0");
    await fs.rename("run/checkpoint-2.tmp-0", "run/checkpoint-2");
    await fs.remove("run/checkpoint-2.old-0");
    assert.deepEqual(fs.paths(), [
      "run/checkpoint-2/model.safetensors",
      "run/checkpoint-2/trainer_state.json",
      "run/checkpoint-20/model.safetensors",
    ]);
    assert.equal(text(await fs.readFile("run/checkpoint-2/model.safetensors")), "new");
    await fs.writeFile("a.txt", bytes("a"));
    await fs.writeFile("b.txt", bytes("b"));
    await fs.rename("a.txt", "b.txt");
    assert.equal(text(await fs.readFile("b.txt")), "a", "a file replaces a file");
    await assertFileError(
      fs.rename("run/checkpoint-2", "run/checkpoint-20"),
      "run/checkpoint-2",
      /folder not empty/,
    );
    await assertFileError(fs.rename("run", "run/inner"), "run", /inside itself/);
  },
);

Deno.test("MemoryFileSystem.filesUnder() lists a folder's files for download", () => {
  const fs = MemoryFileSystem.fromFiles([
    { path: "out/config.json", data: bytes("{}") },
    { path: "out/runs/x/events", data: bytes("e") },
    { path: "output/other", data: bytes("o") },
  ]);
  assert.deepEqual(fs.filesUnder("out").map((f) => f.path), [
    "out/config.json",
    "out/runs/x/events",
  ]);
  assert.equal(fs.filesUnder().length, 3);
  assert.deepEqual(fs.filesUnder("missing"), []);
});

Deno.test("MemoryFileSystem.fromPickedFiles() keeps the paths inside a picked folder", async () => {
  // A folder picker's File carries its path inside the picked folder; Deno's File lacks the
  // property, so it is added as a browser would.
  const inFolder = Object.assign(new File(["jpeg"], "1.jpg"), {
    webkitRelativePath: "beans/train/healthy/1.jpg",
  });
  const single = new File(["{}"], "config.json");
  const fs = await MemoryFileSystem.fromPickedFiles([inFolder, single]);
  assert.deepEqual(fs.paths(), ["beans/train/healthy/1.jpg", "config.json"]);
  const under = await MemoryFileSystem.fromPickedFiles([single], "model");
  assert.equal(text(await under.readFile("model/config.json")), "{}");
});

Deno.test("the file helpers go through the file system in use", async () => {
  const before = fileSystem;
  const fs = new MemoryFileSystem();
  useFileSystem(fs);
  try {
    assert.equal(fileSystem(), fs);
    await writeAtomic("out/a.json", '{"x": 1}');
    assert.deepEqual(await readJson("out/a.json"), { x: 1 });
    assert.equal(await exists("out"), true);
    assert.equal(await exists("out/b.json"), false);
    assert.deepEqual(await listDir("out"), [{ name: "a.json", isDirectory: false }]);
    assert.deepEqual([...await readBytes("out/a.json")].length, 8);
    await ensureWritableDir("fresh/dir");
    assert.deepEqual(await fs.readDir("fresh/dir"), [], "the probe is removed");
    await fs.writeFile("blocker", bytes("x"));
    await assertFileError(
      ensureWritableDir("blocker/out"),
      "blocker/out",
      /^cannot write the output folder \(a parent is not a folder\)$/,
    );
    await assertFileError(
      writeAtomic("blocker/x.json", "{}"),
      "blocker/x.json",
      /^cannot write \(a parent is not a folder\)$/,
    );
    await fs.writeFile("bad.json", bytes("{"));
    await assertFileError(readJson("bad.json"), "bad.json", /^invalid JSON/);
  } finally {
    useFileSystem(null);
  }
  assert.equal(fileSystem, before);
});
