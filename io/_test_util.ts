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

/**
 * A `deno run` of one of the CLI tasks with the permissions a user's task has, writing only
 * inside `writeDir`.
 *
 * @param task The file name in cli/ without `.ts`.
 * @param args Its arguments.
 * @param writeDir The one folder it may write.
 * @param options Extra Deno.Command options (stdout, signal, …).
 * @returns The command, to `.output()` or `.spawn()`.
 */
export function cliCommand(
  task: string,
  args: string[],
  writeDir: string,
  options: Omit<Deno.CommandOptions, "args"> = {},
): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    stdout: "piped",
    stderr: "piped",
    ...options,
    args: [
      "run",
      "--allow-read",
      `--allow-write=${writeDir}`,
      "--allow-sys=hostname",
      // As the tasks: a private XDG_RUNTIME_DIR where none is set, so stderr is the task's own.
      "--allow-env=XDG_RUNTIME_DIR",
      `--preload=${new URL("../cli/_runtime_dir.ts", import.meta.url).pathname}`,
      new URL(`../cli/${task}.ts`, import.meta.url).pathname,
      ...args,
    ],
  });
}
