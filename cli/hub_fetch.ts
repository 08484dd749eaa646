/**
 * The CLI's download step, run as its own process by `cli/_hub.ts` with only the grants it
 * needs: network to the Hub's host and its CDN, reading and writing the cache folder, the
 * Hub's environment variables (the token among them). It fetches a model or dataset id into
 * the cache and prints one JSON line on stdout: `{"dir": snapshot}`, `{"needNet": host}` (exit
 * 3) when a redirect leads to a host it was not granted, or `{"error": line}` (exit 1).
 * Progress bars go to stderr.
 *
 * usage: deno run … cli/hub_fetch.ts model|dataset ID [REVISION]
 *
 * @module
 */

import { denoHubClient, NetNotGrantedError } from "../hub/deno.ts";
import { fetchFromHub } from "../hub/resolve.ts";
import { describeError } from "./_run.ts";

if (import.meta.main) {
  const [kind, id, revision] = Deno.args;
  const print = (value: unknown) => console.log(JSON.stringify(value));
  try {
    if ((kind !== "model" && kind !== "dataset") || !id) {
      throw new Error("usage: hub_fetch.ts model|dataset ID [REVISION]");
    }
    print({ dir: await fetchFromHub(denoHubClient(), id, kind, { revision }) });
    Deno.exit(0);
  } catch (error) {
    if (error instanceof NetNotGrantedError) {
      print({ needNet: error.host });
      Deno.exit(3);
    }
    print({ error: describeError(error) });
    Deno.exit(1);
  }
}
