/**
 * Preloaded by the tasks that start WebGPU (`deno run --preload=cli/_runtime_dir.ts`, see
 * deno.json): where `XDG_RUNTIME_DIR` is unset (root in a container, a shell with no login
 * session), the Vulkan driver's window-system probe prints "error: XDG_RUNTIME_DIR is invalid"
 * twice on stderr at the first adapter request. Setting the variable in this process before that
 * request silences it; the driver reads it then, not at process start. The folder is private
 * to the project (`.cache/xdg-runtime`, mode 0700) and made only where the task may write there,
 * so that no permission prompt appears; a task that may not write just names it.
 *
 * @module
 */

const VARIABLE = "XDG_RUNTIME_DIR";
const DIR = new URL("../.cache/xdg-runtime", import.meta.url).pathname;

/**
 * Points `XDG_RUNTIME_DIR` at the project's private folder when it is unset or not absolute
 * (the driver rejects a relative one the same way). Children started later inherit it.
 *
 * @returns The folder now named, or null when the variable was already usable or may not be
 * read (no `--allow-env=XDG_RUNTIME_DIR`).
 */
export function ensureRuntimeDir(): string | null {
  let current: string | undefined;
  try {
    current = Deno.env.get(VARIABLE);
  } catch {
    return null;
  }
  if (current?.startsWith("/")) return null;
  if (Deno.permissions.querySync({ name: "write", path: DIR }).state === "granted") {
    try {
      Deno.mkdirSync(DIR, { recursive: true, mode: 0o700 });
    } catch {
      // Named anyway: a missing folder is as quiet as an empty one.
    }
  }
  Deno.env.set(VARIABLE, DIR);
  return DIR;
}

ensureRuntimeDir();
