import assert from "node:assert/strict";
import { ZeroedRanges } from "./zeroed_ranges.ts";

Deno.test("ZeroedRanges: writes split cleared ranges, clears merge them", () => {
  const r = new ZeroedRanges<object>();
  const a = {};
  const b = {};
  assert.ok(!r.isZero(a, 0, 4), "nothing is zero before a clear");
  r.cleared(a, 0, 1024);
  assert(r.isZero(a, 0, 1024));
  assert.ok(!r.isZero(b, 0, 4), "other buffers are untouched");
  r.written(a, 256, 512);
  assert(r.isZero(a, 0, 256));
  assert(r.isZero(a, 512, 1024));
  assert.ok(!r.isZero(a, 255, 257));
  assert.ok(!r.isZero(a, 0, 1024), "no range spans the write");
  r.written(a, 0, 4);
  assert.ok(!r.isZero(a, 0, 256));
  assert(r.isZero(a, 4, 256));
  r.cleared(a, 200, 600);
  assert(r.isZero(a, 4, 1024), "an overlapping clear merges with both neighbours");
  r.written(a, 0, 2048);
  assert.ok(!r.isZero(a, 4, 8));
  r.cleared(a, 0, 0);
  assert.ok(!r.isZero(a, 0, 0), "an empty clear adds nothing");
});
