import assert from "node:assert/strict";
import { DenoFileSystem } from "./deno_fs.ts";
import { FileError, fileSystem, readBytes, useFileSystem, writeAtomic } from "./files.ts";
import { MemoryFileSystem } from "./memory_fs.ts";
import { removeOnUnload, testTempDir } from "./_test_util.ts";

const root = await testTempDir();
removeOnUnload(root);
const fs = new DenoFileSystem();
const bytes = (text: string) => new TextEncoder().encode(text);

/** Asserts a FileError naming `path` with a reason matching `reason`. */
async function assertFileError(p: Promise<unknown>, path: string, reason: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof FileError, `a FileError, got ${e}`);
    assert.equal(e.path, path);
    assert.match(e.reason, reason);
    return true;
  });
}

Deno.test("Deno's file system is the default under Deno, and useFileSystem() overrides it", () => {
  assert.ok(fileSystem() instanceof DenoFileSystem);
  const memory = new MemoryFileSystem();
  useFileSystem(memory);
  try {
    assert.equal(fileSystem(), memory);
  } finally {
    useFileSystem(null);
  }
  assert.ok(fileSystem() instanceof DenoFileSystem);
});

Deno.test(
  "DenoFileSystem writes atomically, leaving no temporary file beside the target",
  async () => {
    const dir = `${root}/atomic/deeper`;
    await fs.writeFile(`${dir}/a.json`, bytes("one"));
    await fs.writeFile(`${dir}/a.json`, bytes("two"));
    assert.equal(await Deno.readTextFile(`${dir}/a.json`), "two");
    assert.deepEqual(await fs.readDir(dir), [{ name: "a.json", isDirectory: false }]);
    assert.deepEqual(await fs.stat(`${dir}/a.json`), { isDirectory: false, size: 3 });
    assert.deepEqual(await fs.stat(dir), { isDirectory: true, size: 0 });
    assert.equal(await fs.stat(`${dir}/none`), null);
  },
);

Deno.test("DenoFileSystem appends, renames folders, and removes recursively", async () => {
  const dir = `${root}/ops`;
  await fs.mkdir(`${dir}/tmp/sub`);
  await fs.mkdir(`${dir}/tmp/sub`);
  await fs.appendFile(`${dir}/tmp/sub/events`, bytes("ab"));
  await fs.appendFile(`${dir}/tmp/sub/events`, bytes("cd"));
  await fs.rename(`${dir}/tmp`, `${dir}/final`);
  assert.equal(await Deno.readTextFile(`${dir}/final/sub/events`), "abcd");
  await fs.remove(`${dir}/final`);
  await fs.remove(`${dir}/final`);
  assert.deepEqual(await fs.readDir(dir), []);
});

Deno.test(
  "DenoFileSystem turns Deno's errors into FileErrors naming the file and the reason",
  async () => {
    await assertFileError(
      fs.readFile(`${root}/missing.bin`),
      `${root}/missing.bin`,
      /^file not found$/,
    );
    await assertFileError(fs.readFile(root), root, /^is a directory$/);
    await assertFileError(fs.readDir(`${root}/missing`), `${root}/missing`, /^file not found$/);
    await Deno.writeTextFile(`${root}/plain`, "x");
    await assertFileError(
      fs.mkdir(`${root}/plain/sub`),
      `${root}/plain/sub`,
      /not a folder|exists/,
    );
    await assertFileError(
      writeAtomic(`${root}/plain/x.json`, "{}"),
      `${root}/plain/x.json`,
      // Deno's recursive mkdir of the parent finds a file there.
      /^cannot write \(.*(not a folder|File exists)/,
    );
    // The tests may write only under .cache/test, as the tasks only inside the current folder.
    await assertFileError(
      fs.writeFile("/tmp/tessera-outside.json", bytes("{}")),
      "/tmp/tessera-outside.json",
      /no permission \(the task may write only inside the current folder\)/,
    );
    await assert.rejects(() => readBytes(`${root}/missing.bin`), /missing\.bin: file not found/);
  },
);
