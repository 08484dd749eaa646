/**
 * Preloaded before every test file (`deno test --preload=tests/_validate.ts`, as the `test`
 * task does): turns on the engine's validation mode, so that a dispatch that a browser would
 * reject for aliased bindings fails the test that records it, here in Deno too.
 *
 * @module
 */

import { setValidation } from "../tensor/engine.ts";

setValidation(true);
