/**
 * Test helper: whether wgpu's GL backend should work on this machine, from the files of Mesa's
 * EGL driver (what `libegl1`, `libegl-mesa0` and `libgl1-mesa-dri` install on Debian), checked
 * directly rather than inferred from whether `init()` happened to succeed.
 *
 * @module
 */

/** Folders where distributions put the shared libraries and the DRI drivers. */
const LIB_DIRS = [
  "/usr/lib/x86_64-linux-gnu",
  "/usr/lib/aarch64-linux-gnu",
  "/usr/lib64",
  "/usr/lib",
];

/** What the GL backend needs, each as alternative paths (any one will do). */
const NEEDED: Record<string, string[]> = {
  "libEGL.so.1 (libegl1)": LIB_DIRS.map((d) => `${d}/libEGL.so.1`),
  "Mesa's EGL vendor (libegl-mesa0)": [
    "/usr/share/glvnd/egl_vendor.d/50_mesa.json",
    ...LIB_DIRS.map((d) => `${d}/libEGL_mesa.so.0`),
  ],
  "the software GL driver swrast_dri.so (libgl1-mesa-dri)": LIB_DIRS.map((d) =>
    `${d}/dri/swrast_dri.so`
  ),
};

/**
 * The parts of Mesa's EGL driver that are missing.
 *
 * @param exists Whether a path exists (a fake file tree in tests).
 * @returns Descriptions of the missing parts; empty where GL is expected to work.
 */
export function missingGlDriver(exists: (path: string) => boolean): string[] {
  if (Deno.build.os !== "linux") return ["Linux (the GL tests run on Mesa's EGL)"];
  return Object.entries(NEEDED)
    .filter(([, paths]) => !paths.some(exists))
    .map(([what]) => what);
}

/**
 * Whether a path exists on this machine.
 *
 * @param path The file.
 * @returns True when stat succeeds.
 */
export function fileExists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
