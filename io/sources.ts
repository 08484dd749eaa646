/**
 * The step where a model or dataset name becomes a folder: by default the name is the folder;
 * the Hub client (`hub/`) installs a resolver that downloads an id such as
 * `google/vit-base-patch16-224-in21k` into its cache when no local folder of that name exists,
 * as Transformers' `from_pretrained` does. The loaders call {@link resolveSource} first, so
 * they never depend on the Hub code.
 *
 * @module
 */

/** What a name is loaded as: what the resolver must fetch for it. */
export type SourceKind = "model" | "processor" | "dataset";

/** Options of a resolution. */
export interface ResolveOptions {
  /** Branch, tag or commit on the Hub ("main" by default). */
  revision?: string;
}

/**
 * Turns a name into a local folder (or returns it unchanged when it is one already).
 *
 * @param name The folder or id.
 * @param kind What will be read from it.
 * @param options The revision.
 * @returns The folder to read.
 */
export type SourceResolver = (
  name: string,
  kind: SourceKind,
  options: ResolveOptions,
) => Promise<string>;

let resolver: SourceResolver | null = null;

/**
 * Installs the resolver (the Hub client does, where it is imported), or removes it.
 *
 * @param next The resolver, or null for names-are-folders.
 * @example
 * ```ts
 * import { resolveSource, setSourceResolver } from "./sources.ts";
 * setSourceResolver((name) => Promise.resolve(`/cache/${name}`));
 * console.log(await resolveSource("org/model", "model")); // "/cache/org/model"
 * setSourceResolver(null);
 * ```
 */
export function setSourceResolver(next: SourceResolver | null): void {
  resolver = next;
}

/**
 * Whether a resolver is installed (the Deno entry's `init()` installs the Hub's when none is).
 *
 * @returns True once {@link setSourceResolver} has been given one.
 * @example
 * ```ts
 * import { hasSourceResolver } from "./sources.ts";
 * console.log(hasSourceResolver()); // false
 * ```
 */
export function hasSourceResolver(): boolean {
  return resolver !== null;
}

/**
 * The folder to read a model, processor or dataset from.
 *
 * @param name A local folder or a Hub id.
 * @param kind What will be read from it.
 * @param options The revision.
 * @returns The folder (the name itself when no resolver is installed).
 * @example
 * ```ts
 * import { resolveSource } from "./sources.ts";
 * console.log(await resolveSource("models/vit-tiny-contours", "model"));
 * ```
 */
export function resolveSource(
  name: string,
  kind: SourceKind,
  options: ResolveOptions = {},
): Promise<string> {
  return resolver ? resolver(name, kind, options) : Promise.resolve(name);
}
