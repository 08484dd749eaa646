/**
 * Test helper run as a child process by `tests/checkpoint_faults_test.ts`: trains the small run
 * of `tests/_dying_fs.ts` into an output folder and kills itself with SIGKILL at the given file
 * operation (left half done).
 *
 * Usage: `deno run --allow-read=. --allow-write=OUT --allow-env
 * --deny-env=LP_NATIVE_VECTOR_WIDTH tests/_killed_save.ts OUT N`
 *
 * @module
 */

import "../io/deno_fs.ts";
import { useFileSystem } from "../io/files.ts";
import { init } from "../tensor/runtime.ts";
import { DyingFileSystem, faultTrainer } from "./_dying_fs.ts";

await init();
const [outputDir, killAt] = Deno.args;
const fs = new DyingFileSystem();
fs.killAt = Number(killAt);
fs.sigkill = true;
const { t } = faultTrainer(outputDir, false, [], fs);
useFileSystem(fs);
await t.train();
console.error(`the run ended without reaching file operation ${killAt}`);
Deno.exit(1);
