/**
 * Test helper: temporary folders inside the project's `.cache/test`, so that the test task
 * needs write access there only.
 *
 * @module
 */

const ROOT = new URL("../.cache/test/", import.meta.url).pathname;

/** Creates a fresh temporary folder and returns its path. */
export async function testTempDir(): Promise<string> {
  await Deno.mkdir(ROOT, { recursive: true });
  return await Deno.makeTempDir({ dir: ROOT });
}

/** Removes `dir` when the test module unloads (after its last test). */
export function removeOnUnload(dir: string): void {
  addEventListener("unload", () => {
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch {
      // already gone
    }
  });
}
