/**
 * The wrapper every CLI task runs in: it turns any error into one line on stderr naming what
 * was wrong, and a non-zero exit, never a stack trace (unless `--debug` is given).
 *
 * @module
 */

/** A command-line mistake; the message is shown with the task's usage hint. */
export class UsageError extends Error {
  /**
   * Creates the error.
   *
   * @param message What is wrong with the arguments.
   */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * Runs a task's main function and exits with its status.
 *
 * @param task The task name, for messages.
 * @param main The task.
 */
export async function runCli(task: string, main: () => Promise<number | void>): Promise<never> {
  const debug = Deno.args.includes("--debug");
  try {
    const code = await main();
    Deno.exit(code ?? 0);
  } catch (error) {
    if (debug) console.error(error);
    console.error(`${task}: error: ${describeError(error)}`);
    if (error instanceof UsageError) console.error(`run 'deno task ${task} --help' for usage`);
    Deno.exit(error instanceof UsageError ? 2 : 1);
  }
}

/** One line for any error: the message of our typed errors, a clear line for permissions. */
export function describeError(error: unknown): string {
  if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
    const m = (error as Error).message.match(/access to "?([^",]+)"?/);
    return `permission denied${m ? ` for ${m[1]}` : ""}: the deno task may write only inside the ` +
      "current folder; pick an output inside it, or run the script with `deno run` and the " +
      "--allow-write you need";
  }
  if (error instanceof Error) {
    const message = error.message.split("\n")[0];
    return message || error.name;
  }
  return String(error);
}
