/**
 * The Hub client under Deno: settings from `Deno.env` (read on first use, so a run without an
 * id needs no environment grant), the cache on disk in Python's layout, Deno's `fetch`, progress
 * bars on stderr; and the resolver that makes `fromPretrained("org/name")` and
 * `loadDataset("org/name")` fetch from the Hub when no local folder has that name. Importing
 * this module installs it (`mod.ts` does).
 *
 * @module
 */

import { exists } from "../io/files.ts";
import { setSourceResolver } from "../io/sources.ts";
import { type HubConfig, hubConfigFromEnv } from "./config.ts";
import { DenoHubStorage } from "./deno_storage.ts";
import type { HubClient } from "./download.ts";
import { HubError } from "./errors.ts";
import type { FetchLike } from "./http.ts";
import { progressPrinter } from "./progress.ts";
import { hubResolver } from "./resolve.ts";

/** Network access to a host was not granted to this process (the CLI re-runs with it). */
export class NetNotGrantedError extends HubError {
  /**
   * Creates the error.
   *
   * @param host The host (with its port) that was not granted.
   */
  constructor(readonly host: string) {
    super("NeedNet", `network access to ${host} is not granted (run with --allow-net=${host})`);
    this.name = "NetNotGrantedError";
  }
}

function envGetter(): (name: string) => string | undefined {
  return (name) => {
    try {
      return Deno.env.get(name);
    } catch {
      return undefined;
    }
  };
}

/**
 * The settings from Deno's environment.
 *
 * @returns The settings (`HF_ENDPOINT`, `HF_HOME`, `HF_HUB_CACHE`, offline, token, bars).
 * @example
 * ```ts ignore
 * import { denoHubConfig } from "./deno.ts";
 * console.log(denoHubConfig().cacheDir); // ~/.cache/huggingface/hub by default
 * ```
 */
export function denoHubConfig(): HubConfig {
  return hubConfigFromEnv(envGetter(), (path) => {
    try {
      return Deno.readTextFileSync(path);
    } catch {
      return undefined;
    }
  });
}

/**
 * Deno's fetch, refusing up front a host this process may not reach, so that the refusal is
 * told apart from an unreachable server.
 */
const denoFetch: FetchLike = (url, init) => {
  const host = new URL(url).host;
  if (Deno.permissions.querySync({ name: "net", host }).state !== "granted") {
    return Promise.reject(new NetNotGrantedError(host));
  }
  return fetch(url, init);
};

/**
 * A Hub client for Deno.
 *
 * @param config The settings (from the environment by default).
 * @returns The client.
 * @example
 * ```ts ignore
 * import { denoHubClient } from "./deno.ts";
 * import { hubDownload } from "./download.ts";
 * const path = await hubDownload(denoHubClient(), { id: "google/vit-base-patch16-224",
 *   type: "model" }, "config.json");
 * ```
 */
export function denoHubClient(config: HubConfig = denoHubConfig()): HubClient {
  let stderrTerminal = false;
  try {
    stderrTerminal = Deno.stderr.isTerminal();
  } catch {
    // no terminal information: plain lines
  }
  const encoder = new TextEncoder();
  return {
    config,
    storage: new DenoHubStorage(config.cacheDir),
    fetch: denoFetch,
    manualRedirects: true,
    onProgress: config.progressBars
      ? progressPrinter({
        isTerminal: stderrTerminal,
        write: (text) => Deno.stderr.writeSync(encoder.encode(text)),
      })
      : undefined,
  };
}

/**
 * Installs the Hub resolver for `fromPretrained` and `loadDataset` (the Deno entry's `init()`
 * does it when no resolver is installed; importing does nothing).
 *
 * @param client The client to use (one from the environment, made on first use, by default).
 */
export function installDenoHub(client?: HubClient): void {
  setSourceResolver(hubResolver(client ?? (() => denoHubClient()), exists));
}
