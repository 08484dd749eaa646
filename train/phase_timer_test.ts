import assert from "node:assert/strict";
import { PhaseTimer } from "./phase_timer.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("PhaseTimer gives each phase its own time, not its nested phases'", async () => {
  const timer = new PhaseTimer();
  await timer.span("outer", async () => {
    await sleep(30);
    await timer.span("inner", () => sleep(60));
  });
  // In the order the spans closed: the inner one first.
  const [inner, outer] = timer.phases();
  assert.deepEqual([inner.phase, outer.phase], ["inner", "outer"]);
  assert.ok(inner.ms >= 55, `inner ${inner.ms} ms`);
  assert.ok(outer.ms >= 25 && outer.ms < inner.ms, `outer ${outer.ms} ms, inner ${inner.ms} ms`);
});

Deno.test("PhaseTimer adds up repeated spans and added time, and counts them", async () => {
  const timer = new PhaseTimer();
  for (let i = 0; i < 3; i++) await timer.span("step", () => Promise.resolve());
  timer.add("start-up", 12.5);
  timer.add("start-up", 2.5);
  const byName = Object.fromEntries(timer.phases().map((p) => [p.phase, p]));
  assert.deepEqual(byName.step.count, 3);
  assert.deepEqual(byName["start-up"].count, 2);
  assert.ok(Math.abs(byName["start-up"].ms - 15) < 1e-9);
});

Deno.test("PhaseTimer waits for the sync function at every span boundary", async () => {
  let syncs = 0;
  const timer = new PhaseTimer(() => {
    syncs++;
    return Promise.resolve();
  });
  await timer.span("a", () => timer.span("b", () => Promise.resolve()));
  assert.deepEqual(syncs, 4);
  assert.deepEqual(timer.syncs, 4);
});

Deno.test("PhaseTimer.end() without an open span throws", async () => {
  await assert.rejects(() => new PhaseTimer().end(), /without an open span/);
});
