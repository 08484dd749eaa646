/**
 * The Hub client's settings, read once from the environment as huggingface_hub's
 * `constants.py` does (version 1.29): `HF_ENDPOINT`, `HF_HOME`, `HF_HUB_CACHE`,
 * `HF_HUB_OFFLINE` / `TRANSFORMERS_OFFLINE`, `HF_TOKEN` (else `$HF_HOME/token`) and
 * `HF_HUB_DISABLE_PROGRESS_BARS`. The environment is a function so that the same code runs
 * where there is none (a browser page).
 *
 * @module
 */

/** The Hub client's settings. */
export interface HubConfig {
  /** Base URL, without a trailing slash ("https://huggingface.co"). */
  endpoint: string;
  /** The cache folder (models--org--name/ and datasets--org--name/ live in it). */
  cacheDir: string;
  /** No request is made; everything comes from the cache. */
  offline: boolean;
  /** The access token, sent only as `Authorization` to the endpoint's host. */
  token?: string;
  /** Whether progress bars are drawn. */
  progressBars: boolean;
}

/** The public Hub. */
export const DEFAULT_ENDPOINT = "https://huggingface.co";

/** The environment variables the client reads (what a task must be allowed to read). */
export const HUB_ENV_VARS: readonly string[] = [
  "HF_ENDPOINT",
  "HF_HOME",
  "HF_HUB_CACHE",
  "HUGGINGFACE_HUB_CACHE",
  "HF_HUB_OFFLINE",
  "TRANSFORMERS_OFFLINE",
  "HF_TOKEN",
  "HF_HUB_DISABLE_PROGRESS_BARS",
  "XDG_CACHE_HOME",
  "HOME",
];

/** huggingface_hub's `_is_true`. */
function isTrue(value: string | undefined): boolean {
  return value !== undefined && ["1", "ON", "YES", "TRUE"].includes(value.toUpperCase());
}

/**
 * `$HF_HOME`: `HF_HOME`, else `$XDG_CACHE_HOME/huggingface`, else `~/.cache/huggingface`.
 *
 * @param env Reads a variable (undefined when unset).
 * @returns The folder.
 * @example
 * ```ts
 * import { hfHome } from "./config.ts";
 * console.log(hfHome((k) => ({ HOME: "/home/me" } as Record<string, string>)[k]));
 * // "/home/me/.cache/huggingface"
 * ```
 */
export function hfHome(env: (name: string) => string | undefined): string {
  const home = env("HOME") ?? "~";
  const expand = (p: string) => p.startsWith("~/") ? home + p.slice(1) : p;
  const set = env("HF_HOME");
  if (set) return expand(set);
  return `${expand(env("XDG_CACHE_HOME") ?? `${home}/.cache`)}/huggingface`;
}

/**
 * The settings from an environment, as huggingface_hub reads them.
 *
 * @param env Reads a variable (undefined when unset).
 * @param readToken Reads `$HF_HOME/token` (undefined when missing); none in a browser.
 * @returns The settings.
 * @example
 * ```ts
 * import { hubConfigFromEnv } from "./config.ts";
 * const vars: Record<string, string> = { HF_HOME: "/data/hf", HF_HUB_OFFLINE: "1" };
 * const config = hubConfigFromEnv((k) => vars[k]);
 * console.log(config.cacheDir, config.offline); // "/data/hf/hub" true
 * ```
 */
export function hubConfigFromEnv(
  env: (name: string) => string | undefined,
  readToken?: (path: string) => string | undefined,
): HubConfig {
  const home = hfHome(env);
  const userHome = env("HOME") ?? "~";
  const expand = (p: string) => p.startsWith("~/") ? userHome + p.slice(1) : p;
  const cacheDir = expand(env("HF_HUB_CACHE") ?? env("HUGGINGFACE_HUB_CACHE") ?? `${home}/hub`);
  const token = env("HF_TOKEN")?.trim() || readToken?.(`${home}/token`)?.trim() || undefined;
  return {
    endpoint: (env("HF_ENDPOINT") || DEFAULT_ENDPOINT).replace(/\/+$/, ""),
    cacheDir,
    offline: isTrue(env("HF_HUB_OFFLINE") || env("TRANSFORMERS_OFFLINE")),
    token,
    progressBars: !isTrue(env("HF_HUB_DISABLE_PROGRESS_BARS")),
  };
}
