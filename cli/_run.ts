/**
 * The one way a CLI task runs: a declarative {@link CliSpec} (name, usage, flags, whether it
 * needs the runtime, the task itself) handed to {@link runCli}, which answers `--help`, parses
 * the flags, starts the runtime, and turns any error into one line on stderr naming what was
 * wrong and a non-zero exit, never a stack trace (unless `--debug` is given).
 *
 * @module
 */

// The tasks read and write plain paths through Deno.
import "../io/deno_fs.ts";
import { ArgumentError } from "../train/args.ts";
import { flagHelp, type FlagSpecs, type ParsedFlags, parseFlags, UsageError } from "./_flags.ts";

export { UsageError };

/** Flags a task parses with a parser of its own (train's TrainingArguments). */
export interface MoreFlags<R> {
  /** Their help, printed after the declared flags'. */
  help: string;
  /**
   * Parses the words the declared flags leave, before the runtime starts.
   *
   * @throws {UsageError} For a bad flag.
   */
  parse: (words: readonly string[]) => R;
}

/** What a task's `main` receives: the parsed flags and what `more.parse` returned. */
export interface CliArgs<F extends FlagSpecs, R> extends ParsedFlags<F> {
  /** The result of the spec's `more.parse` (undefined without it). */
  more: R;
}

/** A CLI task, declared. */
export interface CliSpec<F extends FlagSpecs, R = undefined> {
  /** The task's name, as in `deno task NAME`, for messages. */
  name: string;
  /** The synopsis and what the task does; the flags' help lines are added below it. */
  usage: string;
  /** The task's flags (`--help` and `--debug` are every task's and need no entry). */
  flags: F;
  /** Words that are not flags (image files): the error when none is given. */
  positionals?: { missing: string };
  /** Flags the task parses itself; without it an unknown flag is an error. */
  more?: MoreFlags<R>;
  /** Starts the runtime before `main` (tensor/runtime.ts's `init`, for tasks with tensor work). */
  init?: () => Promise<unknown>;
  /** The task; its result is the exit status (0 when it returns nothing). */
  main: (args: CliArgs<F, R>) => Promise<number | void>;
}

/** Every task's own flags, which {@link runCli} handles. */
const COMMON_FLAGS: [string, string][] = [
  ["--debug", "show stack traces on errors"],
  ["--help, -h", "show this help"],
];

/**
 * Declares a task; an identity function that lets TypeScript infer the flag types.
 *
 * @param spec The task.
 * @returns The same spec.
 * @example
 * ```ts
 * import { defineCli } from "./_run.ts";
 * const spec = defineCli({
 *   name: "hello",
 *   usage: "usage: deno task hello [--name NAME]",
 *   flags: { name: { type: "string", default: "world" } },
 *   main: ({ values }) => Promise.resolve(console.log(`hello ${values.name}`)),
 * });
 * console.log(spec.name); // "hello"
 * ```
 */
export function defineCli<const F extends FlagSpecs, R = undefined>(
  spec: CliSpec<F, R>,
): CliSpec<F, R> {
  return spec;
}

/**
 * The text `--help` prints: the usage, the flags, `--debug` and `--help`, then `more.help`.
 *
 * @param spec The task.
 * @returns The help text.
 * @example
 * ```ts
 * import { defineCli, helpText } from "./_run.ts";
 * const spec = defineCli({
 *   name: "x",
 *   usage: "usage: deno task x",
 *   flags: {},
 *   main: async () => {},
 * });
 * console.log(helpText(spec).startsWith("usage: deno task x")); // true
 * ```
 */
export function helpText<F extends FlagSpecs, R>(spec: CliSpec<F, R>): string {
  return `${spec.usage}\n\n${flagHelp(spec.flags, COMMON_FLAGS)}` +
    (spec.more ? `\n\n${spec.more.help}` : "");
}

/**
 * Parses a task's words as {@link runCli} does (without `--help` and `--debug`).
 *
 * @param spec The task.
 * @param argv The words.
 * @returns The flag values, positionals, the words left to `more` and what it made of them.
 * @throws {UsageError} For a bad flag or missing positionals.
 * @example
 * ```ts
 * import { defineCli, parseCli } from "./_run.ts";
 * const spec = defineCli({
 *   name: "x",
 *   usage: "usage: deno task x",
 *   flags: { json: { type: "boolean" } },
 *   main: async () => {},
 * });
 * console.log(parseCli(spec, ["--json"]).values.json); // true
 * ```
 */
export function parseCli<F extends FlagSpecs, R>(
  spec: CliSpec<F, R>,
  argv: readonly string[],
): CliArgs<F, R> {
  const parsed = parseFlags(argv, spec.flags, {
    positionals: spec.positionals !== undefined,
    passThrough: spec.more !== undefined,
  });
  if (spec.positionals && parsed.positionals.length === 0) {
    throw new UsageError(spec.positionals.missing);
  }
  return { ...parsed, more: spec.more?.parse(parsed.rest) as R };
}

/**
 * Runs a task and exits with its status: `--help` prints the help; otherwise the flags are
 * parsed, the runtime is started when the task needs it, and the task runs. Errors become one
 * line, `NAME: error: …` (exit 1, or 2 with a usage hint for argument mistakes); `--debug`
 * adds the stack trace.
 *
 * @param spec The task.
 * @param argv The words (the process's arguments by default).
 * @returns Never: the process exits.
 * @example
 * ```ts ignore
 * import { defineCli, runCli } from "./_run.ts";
 * const spec = defineCli({
 *   name: "x",
 *   usage: "usage: deno task x",
 *   flags: {},
 *   main: async () => 0,
 * });
 * if (import.meta.main) await runCli(spec);
 * ```
 */
export async function runCli<F extends FlagSpecs, R>(
  spec: CliSpec<F, R>,
  argv: readonly string[] = Deno.args,
): Promise<never> {
  const debug = argv.includes("--debug");
  const words = argv.filter((a) => a !== "--debug");
  try {
    if (words.includes("--help") || words.includes("-h")) {
      console.log(helpText(spec));
      Deno.exit(0);
    }
    const parsed = parseCli(spec, words);
    await spec.init?.();
    const code = await spec.main(parsed);
    Deno.exit(code ?? 0);
  } catch (error) {
    if (debug) console.error(error);
    console.error(`${spec.name}: error: ${describeError(error)}`);
    // The library's ArgumentError is a bad flag value too.
    const usage = error instanceof UsageError || error instanceof ArgumentError;
    if (usage) console.error(`run 'deno task ${spec.name} --help' for usage`);
    Deno.exit(usage ? 2 : 1);
  }
}

/**
 * One line for any error: the message of our typed errors, a clear line for permissions.
 *
 * @param error What was thrown.
 * @returns The first line of its message.
 * @example
 * ```ts
 * import { describeError } from "./_run.ts";
 * console.log(describeError(new Error("x.jpg: truncated JPEG\nmore"))); // "x.jpg: truncated JPEG"
 * ```
 */
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
