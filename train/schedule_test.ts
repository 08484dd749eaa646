import assert from "node:assert/strict";
import { learningRateAt, warmupSteps } from "./schedule.ts";
import type { SchedulerType } from "./args.ts";
import { parseSafetensors } from "../nn/safetensors.ts";
import { assertClose } from "../tensor/_test_util.ts";

// The rates torch.optim.lr_scheduler.LambdaLR steps through with Hugging Face's lambdas
// (tests/fixtures/gen_edge.py), at a base rate of 3e-4, stored as f32.
const FILE = new URL("../tests/fixtures/edge.safetensors", import.meta.url);
const CASES: [string, SchedulerType, number, number][] = [
  ["linear_w10_t100", "linear", 10, 100],
  ["linear_w0_t37", "linear", 0, 37],
  ["cosine_w10_t100", "cosine", 10, 100],
  ["cosine_w0_t37", "cosine", 0, 37],
  ["constant_w5", "constant_with_warmup", 5, 100],
];

Deno.test(
  "learningRateAt() follows torch's LambdaLR with Hugging " +
    "Face's schedules, past the last step too",
  async () => {
    const { tensors } = parseSafetensors(await Deno.readFile(FILE), FILE.pathname);
    for (const [name, type, warmup, total] of CASES) {
      const expected = tensors.get(`schedule.${name}`)?.data;
      if (!expected) throw new Error(`fixture schedule.${name} is missing: rerun gen_edge.py`);
      const got = Array.from(
        expected,
        (_, step) => learningRateAt(type, 3e-4, step, warmup, total),
      );
      assertClose(got, expected, { atol: 1e-12, rtol: 1e-6 }, name);
    }
  },
);

Deno.test(
  "the constant schedule ignores warmup, and warmupSteps() " +
    "prefers steps over a ratio",
  () => {
    assert.equal(learningRateAt("constant", 1e-3, 0, 10, 100), 1e-3);
    assert.equal(learningRateAt("constant", 1e-3, 500, 10, 100), 1e-3);
    assert.equal(warmupSteps(7, 0.5, 100), 7);
    // TrainingArguments.get_warmup_steps: ceil(ratio · total).
    assert.equal(warmupSteps(0, 0.1, 95), 10);
    assert.equal(warmupSteps(0, 0, 95), 0);
  },
);
