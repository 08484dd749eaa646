/**
 * The tasks' resolve step for `--model` and `--data`: a value that is not a local path but has
 * the shape of a Hub id is fetched into the Hub cache by `cli/hub_fetch.ts`, run as a separate
 * process with the least it needs: `--allow-net` for the endpoint's host and its CDN only,
 * `--allow-read`/`--allow-write` for the cache folder only, and the Hub's environment
 * variables. The task itself never gets the network nor reads the token. A redirect to a host
 * not granted yet (a mirror's CDN) makes the step run again with that host added.
 *
 * @module
 */

import { exists } from "../io/files.ts";
import { hfHome, HUB_ENV_VARS, hubConfigFromEnv } from "../hub/config.ts";
import { isRepoId } from "../hub/repo.ts";
import { UsageError } from "./_flags.ts";

/** `--revision`: the model id's branch, tag or commit, as Transformers' `revision`. */
export const MODEL_REVISION_FLAG = {
  type: "string",
  value: "REV",
  help: "the branch, tag or commit hash of the --model Hub id (Transformers' revision;\n" +
    "default: main); not used for a local folder",
} as const;

/** `--data-revision`: the dataset id's, as the `revision` of `datasets.load_dataset`. */
export const DATA_REVISION_FLAG = {
  type: "string",
  value: "REV",
  help: "the branch, tag or commit hash of the --data Hub id (load_dataset's revision;\n" +
    "default: main); not used for a local folder",
} as const;

/** The public Hub's file hosts (LFS CDN and Xet bridge), granted up front for it. */
export const HF_CDN_HOSTS: readonly string[] = [
  "cdn-lfs.huggingface.co",
  "cdn-lfs-us-1.huggingface.co",
  "cdn-lfs-eu-1.huggingface.co",
  "cdn-lfs.hf.co",
  "cdn-lfs-us-1.hf.co",
  "cdn-lfs-eu-1.hf.co",
  "cas-bridge.xethub.hf.co",
];

/** The Hub variables the task itself may read: all but the token. */
export const TASK_ENV_VARS: readonly string[] = HUB_ENV_VARS.filter((v) => v !== "HF_TOKEN");

function env(name: string): string | undefined {
  if (!TASK_ENV_VARS.includes(name)) return undefined;
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/**
 * Refuses a revision that could name a file outside the cache's `refs/` (the Hub's branch and
 * tag names, `refs/pr/1` included, never have empty or `.`/`..` segments).
 *
 * @param revision The `--revision` or `--data-revision` value.
 * @throws {UsageError} Naming the revision.
 */
export function checkRevision(revision: string): void {
  const parts = revision.split("/");
  if (revision.length > 255 || parts.some((p) => p === "" || p === "." || p === "..")) {
    throw new UsageError(`'${revision}' is not a branch, tag or commit hash`);
  }
}

/**
 * A `--model`/`--data` value as a local folder: itself when it exists or is no Hub id, else
 * the snapshot folder the download step fetched it into.
 *
 * @param value The flag's value.
 * @param kind What it names.
 * @param revision Branch, tag or commit ("main" by default); warned about and unused for a
 * local folder.
 * @returns The folder to read (undefined when no value was given).
 * @throws {Error} The download step's one-line error (RevisionNotFound for a revision the
 * repository lacks).
 * @throws {UsageError} A revision with empty, `.` or `..` parts.
 * @example
 * ```ts ignore
 * import { resolveHubArg } from "./_hub.ts";
 * const dir = await resolveHubArg("AI-Lab-Makerere/beans", "dataset");
 * ```
 */
export async function resolveHubArg(
  value: string | undefined,
  kind: "model" | "dataset",
  revision?: string,
): Promise<string | undefined> {
  if (revision !== undefined) checkRevision(revision);
  if (value === undefined || await exists(value) || !isRepoId(value)) {
    if (value !== undefined && revision !== undefined) {
      console.warn(`${value} is a local folder: revision '${revision}' is not used`);
    }
    return value;
  }
  const config = hubConfigFromEnv(env);
  const endpointHost = new URL(config.endpoint).host;
  const hosts = new Set<string>(config.offline ? [] : [endpointHost]);
  if (!config.offline && endpointHost === "huggingface.co") {
    HF_CDN_HOSTS.forEach((h) => hosts.add(h));
  }
  const script = new URL("./hub_fetch.ts", import.meta.url).pathname;
  for (let round = 0; round < 4; round++) {
    const args = [
      "run",
      "--no-prompt",
      ...(hosts.size > 0 ? [`--allow-net=${[...hosts].join(",")}`] : []),
      `--allow-env=${HUB_ENV_VARS.join(",")}`,
      `--allow-read=${config.cacheDir},${hfHome(env)}/token`,
      `--allow-write=${config.cacheDir}`,
      script,
      kind,
      value,
      ...(revision ? [revision] : []),
    ];
    // By name, as web:build spawns the bundler: the tasks are granted --allow-run=deno.
    const out = await new Deno.Command("deno", { args, stdout: "piped", stderr: "inherit" })
      .output();
    const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
    let answer: { dir?: string; needNet?: string; error?: string } = {};
    try {
      answer = JSON.parse(lines.at(-1) ?? "{}");
    } catch {
      // falls through to the error below
    }
    if (answer.dir) return answer.dir;
    if (answer.needNet && !hosts.has(answer.needNet)) {
      hosts.add(answer.needNet);
      continue;
    }
    throw new Error(answer.error ?? `${value}: the Hub download step failed (exit ${out.code})`);
  }
  throw new Error(`${value}: the Hub redirected to too many hosts`);
}
