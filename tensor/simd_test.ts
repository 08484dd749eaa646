import assert from "node:assert/strict";
import { hasAvx512, SIMD_WIDTH_VARIABLE } from "./simd.ts";

const AVX512 = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512bw\n" +
  "processor\t: 1\nflags\t\t: fpu sse2 avx2 avx512f avx512bw\n";
const AVX2 = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma\n";

Deno.test("hasAvx512 reads the flags lines of /proc/cpuinfo", () => {
  assert.equal(hasAvx512(AVX512), true);
  assert.equal(hasAvx512(AVX2), false);
  // A prefix of another flag is not the flag, and every core must have it.
  assert.equal(hasAvx512("flags\t: avx512fx\n"), false);
  assert.equal(hasAvx512(AVX512 + "processor\t: 2\nflags\t\t: avx2\n"), false);
  assert.equal(hasAvx512(""), false);
});

Deno.test(
  "widenSoftwareSimd sets 512 bits only on AVX-512, when allowed, and keeps the user's width",
  async () => {
    const module = new URL("./simd.ts", import.meta.url).href;
    await Deno.mkdir(".cache/test", { recursive: true });
    const script = await Deno.makeTempFile({ dir: ".cache/test", suffix: ".ts" });
    const run = async (cpuinfo: string, env: Record<string, string>, allowEnv = true) => {
      await Deno.writeTextFile(
        script,
        `import { widenSoftwareSimd } from ${JSON.stringify(module)};
      const r = widenSoftwareSimd(${JSON.stringify(cpuinfo)});
      const env = Deno.permissions.querySync({ name: "env" }).state === "granted"
        ? Deno.env.get("${SIMD_WIDTH_VARIABLE}") ?? null : "?";
      console.log(JSON.stringify([r, env]));`,
      );
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--no-config",
          "--no-prompt",
          "--allow-read=.",
          ...(allowEnv ? ["--allow-env"] : []),
          script,
        ],
        env: { NO_COLOR: "1", ...env },
        clearEnv: true,
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(out.success, new TextDecoder().decode(out.stderr));
      return JSON.parse(new TextDecoder().decode(out.stdout));
    };
    try {
      assert.deepEqual(await run(AVX512, {}), ["512", "512"]);
      assert.deepEqual(await run(AVX2, {}), [null, null]);
      assert.deepEqual(await run(AVX512, { [SIMD_WIDTH_VARIABLE]: "256" }), ["256", "256"]);
      // Without the permission it neither sets the variable nor asks for it.
      assert.deepEqual(await run(AVX512, {}, false), [null, "?"]);
    } finally {
      await Deno.remove(script);
    }
  },
);
