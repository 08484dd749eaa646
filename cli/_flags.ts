/**
 * Declarative command-line flags for the CLI tasks: each task lists its flags with a type, a
 * default and a line of help, and {@link parseFlags} turns the words into typed values or a
 * {@link UsageError} naming the flag.
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

/** A flag that takes a word: `--model DIR` or `--model=DIR`. */
export interface StringFlag {
  /** The kind of value. */
  type: "string";
  /** The value when the flag is not given. */
  default?: string;
  /** The flag must be given. */
  required?: boolean;
  /** The only values allowed. */
  choices?: readonly string[];
  /** The value's name in the help (`DIR`, `FILE`). */
  value?: string;
  /** One line of help. */
  help?: string;
}

/** A number flag: `--top-k 3`. */
export interface NumberFlag {
  /** The kind of value. */
  type: "number";
  /** The value when the flag is not given. */
  default?: number;
  /** The flag must be given. */
  required?: boolean;
  /** Whole numbers only. */
  integer?: boolean;
  /** The smallest value allowed. */
  min?: number;
  /** Values must be above 0 (a learning rate). */
  positive?: boolean;
  /** The value's name in the help (`N`, `PX`). */
  value?: string;
  /** One line of help. */
  help?: string;
}

/** A switch: `--json`, `--json true`, `--json=false`. */
export interface BooleanFlag {
  /** The kind of value. */
  type: "boolean";
  /** The value when the flag is not given (false). */
  default?: boolean;
  /** One line of help. */
  help?: string;
}

/** One flag of a task. */
export type FlagSpec = StringFlag | NumberFlag | BooleanFlag;

/** A task's flags by name (kebab-case, without the dashes). */
export type FlagSpecs = Record<string, FlagSpec>;

/** The value type of one flag. */
export type FlagValue<S extends FlagSpec> = S extends BooleanFlag ? boolean
  : S extends NumberFlag ? number
  : string;

/** The parsed values: flags with a default or `required` always have one. */
export type FlagValues<F extends FlagSpecs> = {
  [K in keyof F]: F[K] extends BooleanFlag ? boolean
    : F[K] extends { default: unknown } | { required: true } ? FlagValue<F[K]>
    : FlagValue<F[K]> | undefined;
};

/** What {@link parseFlags} returns. */
export interface ParsedFlags<F extends FlagSpecs> {
  /** The values, by flag name. */
  values: FlagValues<F>;
  /** Words that are not flags (image paths). */
  positionals: string[];
  /** Words left for another parser (`--flags` this spec does not know), in order. */
  rest: string[];
}

/** Options of {@link parseFlags}. */
export interface ParseFlagsOptions {
  /** Accept words that are not flags. */
  positionals?: boolean;
  /**
   * Keep unknown `--flags` and the words after them in `rest` instead of failing (for a task
   * without positionals, whose other flags another parser reads).
   */
  passThrough?: boolean;
}

function describeValue(flag: string, spec: NumberFlag): string {
  if (spec.positive) return `--${flag} must be a positive ${spec.integer ? "integer" : "number"}`;
  const kind = spec.integer ? "an integer" : "a number";
  return spec.min !== undefined
    ? `--${flag} must be ${kind} ≥ ${spec.min}`
    : `--${flag} must be ${kind}`;
}

function convert(flag: string, spec: FlagSpec, raw: string): string | number | boolean {
  if (spec.type === "boolean") {
    if (raw !== "true" && raw !== "false") {
      throw new UsageError(`--${flag} takes true or false, not '${raw}'`);
    }
    return raw === "true";
  }
  if (spec.type === "number") {
    const v = Number(raw);
    const ok = raw.trim() !== "" && Number.isFinite(v) &&
      (!spec.integer || Number.isInteger(v)) &&
      (spec.min === undefined || v >= spec.min) && (!spec.positive || v > 0);
    if (!ok) throw new UsageError(`${describeValue(flag, spec)}, got '${raw}'`);
    return v;
  }
  if (spec.choices && !spec.choices.includes(raw)) {
    throw new UsageError(`--${flag} must be ${spec.choices.join(" or ")}, not '${raw}'`);
  }
  return raw;
}

/**
 * Parses command-line words against a task's flags.
 *
 * @param argv The words (without `--help` and `--debug`, which the runner handles).
 * @param specs The task's flags.
 * @param options Whether positionals and unknown flags are allowed.
 * @returns The typed values, the positionals and the words left for another parser.
 * @throws {UsageError} For an unknown flag, a missing value or a bad one, naming the flag.
 * @example
 * ```ts
 * import { parseFlags } from "./_flags.ts";
 * const { values } = parseFlags(["--top-k", "5"], {
 *   "top-k": { type: "number", integer: true, min: 1, default: 3 },
 *   json: { type: "boolean" },
 * });
 * console.log(values["top-k"], values.json); // 5 false
 * ```
 */
export function parseFlags<const F extends FlagSpecs>(
  argv: readonly string[],
  specs: F,
  options: ParseFlagsOptions = {},
): ParsedFlags<F> {
  const values: Record<string, string | number | boolean | undefined> = {};
  const positionals: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i];
    if (word === "--") {
      if (!options.positionals) throw new UsageError("unexpected argument '--'");
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!word.startsWith("--")) {
      if (options.positionals) positionals.push(word);
      else if (options.passThrough) rest.push(word);
      else throw new UsageError(`unexpected argument '${word}'`);
      continue;
    }
    const [flag, inline] = word.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    const spec = Object.hasOwn(specs, flag) ? specs[flag] : undefined;
    if (!spec) {
      if (!options.passThrough) throw new UsageError(`unknown flag --${flag}`);
      // Its value, if any, follows it into `rest` as a word that is not a flag.
      rest.push(word);
      continue;
    }
    if (spec.type === "boolean") {
      const next = argv[i + 1];
      const raw = inline ?? (next === "true" || next === "false" ? argv[++i] : "true");
      values[flag] = convert(flag, spec, raw);
      continue;
    }
    let raw = inline;
    if (raw === undefined) {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith("--")) {
        throw new UsageError(`--${flag} needs a value`);
      }
      raw = argv[++i];
    }
    values[flag] = convert(flag, spec, raw);
  }
  for (const [flag, spec] of Object.entries(specs)) {
    if (values[flag] !== undefined) continue;
    if (spec.type !== "boolean" && spec.required) {
      throw new UsageError(`--${flag}${spec.value ? ` ${spec.value}` : ""} is required`);
    }
    values[flag] = spec.default ?? (spec.type === "boolean" ? false : undefined);
  }
  return { values: values as FlagValues<F>, positionals, rest };
}

/**
 * The help lines of a task's flags: name, value, help and default, in one aligned column.
 *
 * @param specs The task's flags.
 * @param extra More lines, as `[flag words, help]` (the runner's `--debug` and `--help`).
 * @returns One line per flag (more for help of several lines).
 * @example
 * ```ts
 * import { flagHelp } from "./_flags.ts";
 * console.log(flagHelp({ out: { type: "string", value: "DIR", help: "target", default: "x" } }));
 * // "  --out DIR       target (default x)"
 * ```
 */
export function flagHelp(specs: FlagSpecs, extra: ReadonlyArray<[string, string]> = []): string {
  const rows: [string, string][] = Object.entries(specs).map(([flag, spec]) => {
    const value = spec.type === "boolean"
      ? ""
      : ` ${spec.value ?? (spec.type === "number" ? "N" : "VALUE")}`;
    const fallback = spec.type !== "boolean" && spec.default !== undefined
      ? `(default ${spec.default})`
      : "";
    return [`--${flag}${value}`, [spec.help ?? "", fallback].filter(Boolean).join(" ")];
  });
  rows.push(...extra);
  const column = Math.max(18, ...rows.map(([head]) => head.length + 4));
  return rows.map(([head, help]) =>
    // Help of several lines continues under its first line.
    `  ${head.padEnd(column - 2)}${help.split("\n").join(`\n${" ".repeat(column)}`)}`.trimEnd()
  ).join("\n");
}

/** The flags of parameter-efficient training (train/parameter_efficient.ts), for `train`. */
export const PEFT_FLAGS = {
  peft: { type: "string", choices: ["lora"], value: "METHOD", help: "train a LoRA adapter (PEFT)" },
  "lora-r": { type: "number", integer: true, min: 1, default: 16, value: "N", help: "LoRA rank" },
  "lora-alpha": { type: "number", positive: true, default: 16, value: "A", help: "LoRA alpha" },
  "lora-dropout": {
    type: "number",
    min: 0,
    default: 0.1,
    value: "P",
    help: "dropout on LoRA's input",
  },
  "lora-target-modules": {
    type: "string",
    default: "query,value",
    value: "NAMES",
    help: "comma-separated modules LoRA adapts",
  },
  "modules-to-save": {
    type: "string",
    default: "classifier",
    value: "NAMES",
    help: "comma-separated modules trained whole with LoRA",
  },
  "freeze-backbone": { type: "boolean", help: "train only the head (a linear probe)" },
  "gradient-checkpointing": {
    type: "boolean",
    help: "recompute encoder activations in backward (less memory)",
  },
} as const;
