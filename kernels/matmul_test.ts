import assert from "node:assert/strict";
import {
  matmulGrid,
  type MatmulShape,
  smallTile,
  TEXTURE_VARIANTS,
  TEXTURETN_VARIANTS,
} from "./matmul.ts";

// The texture kernels' tile numbering, as their WGSL computes it: invocation x of grid z owns
// tile x % tilesPerBatch of entry z·batchChunk + x / tilesPerBatch, if that is in range.
Deno.test("texture matmul grids give every tile of every batch entry to exactly one invocation", () => {
  const shapes: [MatmulShape, number][] = [
    // Attention of the bundled model: four 32×32 tiles per entry, fewer than a workgroup's lanes.
    [{ batch: 64, m: 101, k: 101, n: 32, transA: true, transB: false }, 0],
    [{ batch: 1, m: 1616, k: 128, n: 384, transA: false, transB: true }, 0],
    [{ batch: 5, m: 35, k: 24, n: 70, transA: false, transB: true }, 1],
    // More tiles than one grid row of workgroups holds: entries are split over grid z.
    [{ batch: 5000, m: 512, k: 4, n: 512, transA: false, transB: true }, 0],
  ];
  for (const [s, small] of shapes) {
    const v = small ? smallTile(TEXTURETN_VARIANTS) : TEXTURE_VARIANTS[0];
    const { groups, tilesPerBatch, batchChunk, tilesN } = matmulGrid(v, s);
    assert.equal(tilesPerBatch, Math.ceil(s.m / v.tm) * tilesN);
    assert.ok(groups[0] <= 65535 && groups[2] <= 65535, `grid ${groups}`);
    const owners = new Uint8Array(s.batch * tilesPerBatch);
    let idle = 0;
    for (let gz = 0; gz < groups[2]; gz++) {
      for (let gx = 0; gx < groups[0] * v.workgroup; gx++) {
        const zi = Math.floor(gx / tilesPerBatch);
        const z = gz * batchChunk + zi;
        if (zi >= batchChunk || z >= s.batch) {
          idle++;
          continue;
        }
        owners[z * tilesPerBatch + (gx % tilesPerBatch)]++;
      }
    }
    assert.ok(owners.every((n) => n === 1), `${JSON.stringify(s)}: a tile owned ${owners}`);
    // Idle lanes: the last workgroup of each grid z, and the last z fewer than one entry per z.
    assert.ok(idle < groups[2] * (v.workgroup + tilesPerBatch), `${idle} idle invocations`);
  }
  assert.equal(
    matmulGrid(TEXTURE_VARIANTS[0], shapes[3][0]).groups[2],
    3,
    "5000 entries of 256 tiles need three grid rows",
  );
});
