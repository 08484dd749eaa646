/**
 * The model families' golden tests: a fixture of PyTorch cases (weights under
 * `<case>.param.<key>`, inputs, outputs and every gradient under `<case>.grad.<key>`) loaded into
 * a Tessera model, run forward and backward, and compared within a stated tolerance.
 *
 * @module
 */

import assert from "node:assert/strict";
import { parseSafetensors, type SafetensorsEntry } from "../nn/safetensors.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { assertClose } from "../tensor/_test_util.ts";

/** The fixtures folder. */
export const FIXTURES: URL = new URL("../tests/fixtures/", import.meta.url);

/** A golden fixture: its tensors, its metadata, and a getter that fails naming a missing key. */
export interface Golden {
  /** The file's metadata (each case's config and class). */
  metadata: Record<string, string>;
  /** Every tensor key. */
  keys: string[];
  /** The entry of a key; fails the test when the fixture lacks it. */
  get(key: string): SafetensorsEntry;
  /** The cases: the prefixes of the metadata keys that end with `suffix`. */
  cases(suffix: string): string[];
}

/**
 * Reads a golden fixture from `tests/fixtures/`.
 *
 * @param name The file name.
 * @returns The fixture.
 */
export async function readGolden(name: string): Promise<Golden> {
  const file = new URL(name, FIXTURES);
  const { tensors, metadata } = parseSafetensors(await Deno.readFile(file), file.pathname);
  return {
    metadata,
    keys: [...tensors.keys()],
    get(key) {
      const entry = tensors.get(key);
      assert.ok(entry, `fixture has ${key}`);
      return entry;
    },
    cases: (suffix) =>
      Object.keys(metadata).filter((k) => k.endsWith(suffix)).map((k) =>
        k.slice(0, -suffix.length)
      ),
  };
}

/** The largest magnitude of a tensor's values. */
export function maxAbs(values: Float32Array): number {
  return values.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
}

/**
 * Every element within `tol` of PyTorch's, relative to the tensor's largest magnitude (at least
 * `floor`); returns the worst error on that scale.
 *
 * @param actual Tessera's values.
 * @param expected PyTorch's.
 * @param label What they are, for the failure message.
 * @param tol The tolerance, relative to the scale.
 * @param floor The least scale (a gradient that is zero in exact arithmetic is rounding noise).
 * @returns The worst error divided by the scale.
 */
export function assertRelative(
  actual: Float32Array,
  expected: Float32Array,
  label: string,
  tol: number,
  floor = 0,
): number {
  const scale = Math.max(maxAbs(expected), floor) || 1;
  assertClose(actual, expected, { atol: tol * scale, rtol: 0 }, label);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    worst = Math.max(worst, Math.abs(actual[i] - expected[i]) / scale);
  }
  return worst;
}

/** What a model must offer a golden case. */
interface GoldenModel {
  namedParameters(): Array<[string, Tensor]>;
}

/**
 * Loads a case's weights into a model, after checking that its parameters have Hugging Face's
 * names in the fixture's order and shapes.
 *
 * @param model The model.
 * @param golden The fixture.
 * @param name The case.
 */
export function loadGoldenWeights(model: GoldenModel, golden: Golden, name: string): void {
  const prefix = `${name}.param.`;
  const fixtureNames = golden.keys.filter((k) => k.startsWith(prefix)).map((k) =>
    k.slice(prefix.length)
  );
  assert.deepEqual(model.namedParameters().map(([k]) => k), fixtureNames, "HF's names");
  for (const [key, param] of model.namedParameters()) {
    const entry = golden.get(`${prefix}${key}`);
    assert.deepEqual(entry.shape, [...param.shape], key);
    param.assign(entry.data);
  }
}

/**
 * Compares a case's outputs and every gradient with PyTorch's; gradient scales are floored at
 * 1e-4 of the model's largest gradient. Each output tensor is disposed after it is read.
 *
 * @param model The model, after backward.
 * @param golden The fixture.
 * @param name The case.
 * @param outputs Output names (fixture keys `<case>.<name>`) and their tensors.
 * @param tol The tolerance, relative to each tensor's largest magnitude.
 * @param unused Parameters the case does not use: PyTorch leaves their .grad None (stored as
 * zeros), so Tessera's must be absent or zero.
 * @returns The worst relative error of each output and of the gradients.
 */
export async function compareGolden(
  model: GoldenModel,
  golden: Golden,
  name: string,
  outputs: ReadonlyArray<readonly [string, Tensor]>,
  tol: number,
  unused: (key: string) => boolean = () => false,
): Promise<Record<string, number>> {
  const worst: Record<string, number> = {};
  for (const [what, value] of outputs) {
    worst[what] = assertRelative(
      await value.toArray(),
      golden.get(`${name}.${what}`).data,
      what,
      tol,
    );
    value.dispose();
  }
  const params = model.namedParameters();
  const expected = params.map(([key]) => golden.get(`${name}.grad.${key}`).data);
  const floor = 1e-4 * Math.max(...expected.map(maxAbs));
  worst.gradients = 0;
  for (const [i, [key, param]] of params.entries()) {
    if (unused(key)) {
      assert.ok(expected[i].every((v) => v === 0), `${key} is unused in PyTorch`);
      if (param.grad) assert.ok((await param.grad.toArray()).every((v) => v === 0), key);
      continue;
    }
    assert.ok(param.grad, `${key} has .grad`);
    const err = assertRelative(await param.grad.toArray(), expected[i], key, tol, floor);
    worst.gradients = Math.max(worst.gradients, err);
  }
  return worst;
}

/**
 * One line of a case's worst errors, for the test log.
 *
 * @param name The case.
 * @param worst {@link compareGolden}'s result.
 * @returns The line.
 */
export function goldenLine(name: string, worst: Record<string, number>): string {
  const parts = Object.entries(worst).map(([k, v]) => `${k} ${v.toExponential(2)}`);
  return `${name}: max error / max |value|: ${parts.join(", ")}`;
}
