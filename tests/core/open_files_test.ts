import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  CEILING,
  type FileLimitAccess,
  type FileLimits,
  procLimits,
  raiseOpenFiles,
} from "../../core/open_files.ts";

/** Limits held in memory; a set above `cap` (the kernel's own ceiling) or the hard limit is refused. */
function fakeLimits(start: FileLimits | undefined, cap = 1n << 62n): FileLimitAccess & { now?: FileLimits } {
  const access = {
    now: start,
    get: () => access.now && { ...access.now },
    set(l: FileLimits) {
      if (!access.now || l.soft > l.hard || l.hard > access.now.hard || l.soft > cap) return false;
      access.now = { ...l };
      return true;
    },
  };
  return access;
}

Deno.test("raiseOpenFiles lifts the soft limit to the hard one, as systemd's 1024:524288 allows", () => {
  const limits = fakeLimits({ soft: 1024n, hard: 524_288n });
  assert.deepEqual(raiseOpenFiles(limits), { before: 1024n, after: 524_288n, hard: 524_288n });
  assert.deepEqual(limits.now, { soft: 524_288n, hard: 524_288n });
});

Deno.test("raiseOpenFiles asks no more than the ceiling of an unlimited hard limit, halving while refused", () => {
  const unlimited = 0xffff_ffff_ffff_ffffn;
  const open = fakeLimits({ soft: 1024n, hard: unlimited });
  assert.equal(raiseOpenFiles(open)?.after, CEILING);
  // A kernel that allows fewer (a lowered fs.nr_open) gets the largest halving of the ceiling it takes.
  const capped = fakeLimits({ soft: 256n, hard: unlimited }, 100_000n);
  assert.deepEqual(raiseOpenFiles(capped), { before: 256n, after: CEILING / 16n, hard: unlimited });
});

Deno.test("raiseOpenFiles never lowers a limit, and says so when there is nothing to raise or read", () => {
  const high = fakeLimits({ soft: 4096n, hard: 4096n });
  assert.deepEqual(raiseOpenFiles(high), { before: 4096n, after: 4096n, hard: 4096n });
  const refused = fakeLimits({ soft: 300n, hard: 4096n }, 200n);
  assert.deepEqual(raiseOpenFiles(refused), { before: 300n, after: 300n, hard: 4096n });
  assert.deepEqual(refused.now, { soft: 300n, hard: 4096n });
  assert.equal(raiseOpenFiles(fakeLimits(undefined)), undefined);
});

Deno.test("procLimits reads the open-files line of /proc/<pid>/limits, unlimited as the largest count", () => {
  const text = [
    "Limit                     Soft Limit           Hard Limit           Units     ",
    "Max processes             62811                62811                processes ",
    "Max open files            1024                 524288               files     ",
  ].join("\n");
  assert.deepEqual(procLimits(text), { soft: 1024n, hard: 524_288n });
  assert.deepEqual(procLimits("Max open files            4096                 unlimited            files"), {
    soft: 4096n,
    hard: 0xffff_ffff_ffff_ffffn,
  });
  assert.equal(procLimits("Max processes 10 10 processes"), undefined);
});

Deno.test({
  name: "raiseOwnOpenFiles raises a process's own soft limit through libc (a compiled binary starts low)",
  ignore: Deno.build.os !== "linux",
  async fn() {
    // `deno` raises its own soft limit as it starts, so the child lowers it again first, as a compiled
    // binary's runtime would have left it, then raises it with the meter's code.
    const module = fileURLToPath(new URL("../../core/open_files.ts", import.meta.url));
    const script = `
      import { raiseOwnOpenFiles } from ${JSON.stringify(module)};
      const libc = Deno.dlopen("libc.so.6", { setrlimit: { parameters: ["i32", "buffer"], result: "i32" } });
      const soft = () => Number(/^Max open files\\s+(\\d+)/m.exec(Deno.readTextFileSync("/proc/self/limits"))[1]);
      const hard = Number(/^Max open files\\s+\\d+\\s+(\\d+)/m.exec(Deno.readTextFileSync("/proc/self/limits"))[1]);
      if (libc.symbols.setrlimit(7, new Uint8Array(new BigUint64Array([256n, BigInt(hard)]).buffer)) !== 0) {
        throw new Error("could not lower the limit");
      }
      libc.close();
      const lowered = soft();
      const raised = raiseOwnOpenFiles();
      console.log(JSON.stringify({ lowered, hard, now: soft(), raised: raised && Number(raised.after) }));
    `;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--cached-only", script],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const seen = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.equal(seen.lowered, 256);
    const expected = Math.min(seen.hard, Number(CEILING));
    assert.ok(expected > 256, `this machine's hard limit (${seen.hard}) leaves nothing to raise`);
    assert.equal(seen.now, expected, "the soft limit is raised to the hard one");
    assert.equal(seen.raised, expected);
  },
});
