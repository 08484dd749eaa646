/**
 * The list of backend kinds: the one place a backend is registered. A new backend is a folder
 * beside `software/` and `gpu/` that exports a {@link BackendKind}, and one line here.
 *
 * @module
 */

import type { Backend, BackendKind } from "../core/backend.ts";
import { gpuBackends } from "./gpu/gpu.ts";
import type { AdapterProfile } from "../core/profile.ts";
import { softwareBackends } from "./software/software.ts";

/** Every backend kind, in the order their candidates are tried. */
export const BACKEND_KINDS: readonly BackendKind[] = [softwareBackends, gpuBackends];

/**
 * The backends to try on an adapter, fastest first: every kind's candidates, in the order of
 * {@link BACKEND_KINDS}.
 *
 * @param profile What the adapter can do.
 * @param kinds The kinds to ask (default all).
 * @returns The candidates, for the start-up check to pick from.
 * @example
 * ```ts
 * import { init } from "../runtime.ts";
 * import { backendCandidates } from "./registry.ts";
 * const rt = await init();
 * console.log(backendCandidates(rt.profile).map((b) => b.name));
 * ```
 */
export function backendCandidates(
  profile: AdapterProfile,
  kinds: readonly BackendKind[] = BACKEND_KINDS,
): Backend[] {
  return kinds.flatMap((kind) => kind.candidates(profile));
}
