import assert from "node:assert/strict";
import { flagHelp, parseFlags, UsageError } from "./_flags.ts";
import { defineCli, helpText, parseCli } from "./_run.ts";

const SPECS = {
  model: { type: "string", required: true, value: "DIR", help: "the model folder" },
  split: { type: "string", default: "validation" },
  layout: { type: "string", choices: ["scene", "single"] },
  "top-k": { type: "number", integer: true, min: 1, default: 3 },
  lr: { type: "number", positive: true },
  json: { type: "boolean", help: "one JSON object" },
} as const;

Deno.test("parseFlags() reads typed values, inline values and defaults", () => {
  const { values } = parseFlags(["--model", "m", "--top-k=5", "--json", "--lr", "2e-4"], SPECS);
  assert.deepEqual(values, {
    model: "m",
    split: "validation",
    layout: undefined,
    "top-k": 5,
    lr: 2e-4,
    json: true,
  });
  assert.equal(parseFlags(["--model=m", "--json", "false"], SPECS).values.json, false);
});

Deno.test("parseFlags() names the flag in one line for every mistake", () => {
  const cases: [string[], RegExp][] = [
    [[], /^--model DIR is required$/],
    [["--model"], /^--model needs a value$/],
    [["--model", "m", "--modle", "x"], /^unknown flag --modle$/],
    [["--model", "m", "extra"], /^unexpected argument 'extra'$/],
    [["--model", "m", "--top-k", "0"], /^--top-k must be an integer ≥ 1, got '0'$/],
    [["--model", "m", "--top-k", "2.5"], /^--top-k must be an integer ≥ 1, got '2.5'$/],
    [["--model", "m", "--lr", "-1"], /^--lr must be a positive number, got '-1'$/],
    [["--model", "m", "--layout", "grid"], /^--layout must be scene or single, not 'grid'$/],
    [["--model", "m", "--json=yes"], /^--json takes true or false, not 'yes'$/],
  ];
  for (const [argv, pattern] of cases) {
    assert.throws(() => parseFlags(argv, SPECS), (e: unknown) => {
      assert.ok(e instanceof UsageError, String(e));
      assert.match(e.message, pattern);
      return true;
    });
  }
});

Deno.test("parseFlags() leaves unknown flags and their values to another parser when asked", () => {
  const { values, rest } = parseFlags(
    ["--max-steps", "4", "--model", "m", "--fp16", "--resume-from-checkpoint"],
    SPECS,
    { passThrough: true },
  );
  assert.equal(values.model, "m");
  assert.deepEqual(rest, ["--max-steps", "4", "--fp16", "--resume-from-checkpoint"]);
});

Deno.test("parseCli() requires positionals when the spec takes them and runs more.parse", () => {
  const spec = defineCli({
    name: "x",
    usage: "usage: deno task x IMAGE…",
    flags: { json: { type: "boolean" } },
    positionals: { missing: "give at least one image file" },
    main: async () => {},
  });
  assert.deepEqual(parseCli(spec, ["a.png", "--json", "b.png"]).positionals, ["a.png", "b.png"]);
  assert.throws(() => parseCli(spec, ["--json"]), /give at least one image file/);
  const withMore = defineCli({
    name: "y",
    usage: "usage: deno task y",
    flags: {},
    more: { help: "more flags", parse: (words) => words.length },
    main: async () => {},
  });
  assert.equal(parseCli(withMore, ["--a", "1", "--b"]).more, 3);
  assert.match(helpText(withMore), /--debug[^\n]*\n {2}--help, -h[^\n]*\n\nmore flags$/);
});

Deno.test("flagHelp() aligns flags, values, help and defaults", () => {
  assert.equal(
    flagHelp({
      out: { type: "string", value: "DIR", help: "target folder", default: "x" },
      json: { type: "boolean", help: "first line\nsecond line" },
    }),
    "  --out DIR       target folder (default x)\n" +
      "  --json          first line\n" +
      "                  second line",
  );
});
