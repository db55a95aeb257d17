/**
 * The meter under faults, as real processes against the local fake provider: a full disk, a database locked
 * by another program, a corrupted database. Each asserts that traffic flows, how many rows end up written
 * and dropped, and what `status` says.
 *
 * @module
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { COMPLETION, type FakeProvider, startFakeProvider } from "../../testkit/fake_provider.ts";
import { type CliResult, MAIN, runCli } from "../helpers/cli.ts";
import {
  accepts,
  daemonHealthy,
  meterCommand,
  pinPorts,
  spawnMeter,
  stop,
  waitFor,
} from "../../testkit/processes.ts";
import { makeRow } from "../helpers/rows.ts";
import { openStore } from "../../store/open.ts";
import { RowWriter } from "../../store/writer.ts";

/** A meter home with the fake provider behind api.openai.com, and its daemon and edge running. */
interface Meter {
  home: string;
  ports: { edge: number; intercept: number; api: number };
  provider: FakeProvider;
  /** One chat completion through the daemon, as an app sends it; resolves with the HTTP status. */
  call(): Promise<number>;
  health(): Promise<
    { store: { writing: boolean; reason?: string; written: number; queued: number; dropped: number } }
  >;
  rows(): number;
  /** The daemon's process id. */
  daemonPid: number;
  stop(): Promise<void>;
}

/** One chat completion through the proxy on `port`, trusting `caPem`, as an app sends it. */
async function chatThrough(port: number, caPem: string): Promise<{ status: number; body: unknown }> {
  const client = Deno.createHttpClient({
    proxy: { url: `http://127.0.0.1:${port}` },
    caCerts: [caPem],
    poolMaxIdlePerHost: 0,
  });
  try {
    const res = await fetch("https://api.openai.com/v1/chat/completions", {
      client,
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-4o-mini", messages: [] }),
    });
    return { status: res.status, body: await res.json() };
  } finally {
    client.close();
  }
}

/** How many calls `home`'s database holds. */
function requestRows(home: string): number {
  const db = new DatabaseSync(join(home, "db.sqlite"), { readOnly: true });
  try {
    return (db.prepare("SELECT count(*) AS n FROM requests").get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** Starts the fake provider and points `home`'s config at it on pinned ports; `config` is appended. */
async function providerHome(
  home: string,
  providerDir: string,
  config = "",
): Promise<{ provider: FakeProvider; ports: Meter["ports"] }> {
  const provider = await startFakeProvider(providerDir);
  const ports = await pinPorts(home);
  Deno.writeTextFileSync(
    join(home, "config.toml"),
    `[upstream]\nca_file = ${JSON.stringify(provider.caFile)}\n` +
      `resolve = { "api.openai.com" = "127.0.0.1:${provider.port}" }\n${config}`,
  );
  return { provider, ports };
}

/** Starts the daemon and the edge in `home`; `config` is appended to the `config.toml` made for them. */
async function startMeter(home: string, providerDir: string, config = ""): Promise<Meter> {
  const { provider, ports } = await providerHome(home, providerDir, config);
  const daemon = spawnMeter(home, "daemon");
  const edge = spawnMeter(home, "edge");
  await waitFor("a healthy daemon", () => daemonHealthy(ports.api), 20_000);
  await waitFor("the edge", () => accepts(ports.edge), 20_000);
  const caPem = Deno.readTextFileSync(join(home, ".mitmproxy", "mitmproxy-ca-cert.pem"));
  return {
    home,
    ports,
    provider,
    daemonPid: daemon.pid,
    async call() {
      // Through the daemon's own port (it takes CONNECTs from clients directly too): on a loaded machine the
      // edge may find the daemon slow and tunnel a call past it, unmetered, which is the edge's job but would
      // make "rows written = calls completed" a matter of luck here.
      const { status, body } = await chatThrough(ports.intercept, caPem);
      assert.deepEqual(body, COMPLETION);
      return status;
    },
    async health() {
      return await (await fetch(`http://127.0.0.1:${ports.api}/health`)).json();
    },
    rows: () => requestRows(home),
    async stop() {
      await stop(daemon);
      await stop(edge);
      await provider.close();
    },
  };
}

/** `status --json`'s component called `name`. */
async function statusComponent(
  home: string,
  name: string,
): Promise<{ ok: boolean; detail: string } | undefined> {
  const out = await runCli(["status", "--json"], { HALTON_METER_HOME: home, HOME: home });
  const report = JSON.parse(out.stdout) as { components: { name: string; ok: boolean; detail: string }[] };
  return report.components.find((c) => c.name === name);
}

/** Mounts a tmpfs of `size` on a new folder; undefined when this machine does not allow it. */
function smallDisk(size: string): string | undefined {
  if (Deno.build.os !== "linux" || Deno.uid() !== 0) return undefined;
  const dir = Deno.makeTempDirSync({ prefix: "hm-full-disk-" });
  const out = new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir],
    stderr: "null",
  })
    .outputSync();
  if (out.success) return dir;
  Deno.removeSync(dir);
  return undefined;
}

/** A 24 MB tmpfs with a meter home in it, and a folder for the fake provider: what the disk tests start from. */
async function homeOnSmallDisk(name: string): Promise<{ disk: string; home: string; providerDir: string }> {
  const disk = smallDisk("24m")!;
  const providerDir = await Deno.makeTempDir({ prefix: `hm-${name}-provider-` });
  const home = join(disk, ".halton-meter");
  Deno.mkdirSync(home);
  return { disk, home, providerDir };
}

function unmount(dir: string): void {
  new Deno.Command("umount", { args: [dir] }).outputSync();
  Deno.removeSync(dir, { recursive: true });
}

/** Writes zeros to `file` until the disk says no more. */
function fillDisk(file: string): void {
  const f = Deno.openSync(file, { write: true, create: true });
  const chunk = new Uint8Array(64 * 1024);
  try {
    while (true) f.writeSync(chunk);
  } catch (e) {
    if (!(e instanceof Error) || !/space|ENOSPC|os error 28/i.test(e.message)) throw e;
  } finally {
    f.close();
  }
}

const CAN_MOUNT = (() => {
  const dir = smallDisk("1m");
  if (dir) unmount(dir);
  return dir !== undefined;
})();
if (!CAN_MOUNT) {
  console.warn(
    "safety_test: the full-disk case is skipped: it mounts a small tmpfs, which needs root on Linux",
  );
}

Deno.test({
  name:
    "a full disk: traffic flows, status says rows are not being written, every row lands once space returns",
  ignore: !CAN_MOUNT,
  async fn() {
    const { disk, home, providerDir } = await homeOnSmallDisk("full-disk");
    const meter = await startMeter(home, providerDir);
    try {
      for (let i = 0; i < 3; i++) assert.equal(await meter.call(), 200);
      await waitFor("3 rows", () => Promise.resolve(meter.rows() === 3), 10_000);

      fillDisk(join(disk, "filler"));
      // Rows go on landing while the write-ahead log has room it can reuse (it starts over after each
      // checkpoint); the writer reports the disk once a commit needs more.
      let during = 0;
      const reported = async () => !(await meter.health()).store.writing;
      while (during < 400 && !(await reported())) {
        for (let i = 0; i < 20; i++, during++) {
          assert.equal(await meter.call(), 200, "traffic flows on a full disk");
        }
      }
      await waitFor("the writer to report the full disk", reported, 10_000);
      const health = (await meter.health()).store;
      assert.equal(health.reason, "the disk is full");
      const store = await statusComponent(home, "store");
      assert.equal(store?.ok, false);
      assert.match(store?.detail ?? "", /^rows are not being written: the disk is full/);

      Deno.removeSync(join(disk, "filler"));
      await waitFor("every row written", () => Promise.resolve(meter.rows() === 3 + during), 15_000);
      const after = (await meter.health()).store;
      assert.equal(after.writing, true);
      assert.equal(after.dropped, 0);
      assert.equal(after.queued, 0);
      assert.equal((await statusComponent(home, "store"))?.ok, true);
      for (
        const line of Deno.readTextFileSync(join(home, "logs", "daemon.jsonl")).split("\n").filter(Boolean)
      ) {
        JSON.parse(line); // a line cut by the full disk would throw here
      }
    } finally {
      await meter.stop();
      unmount(disk);
      await Deno.remove(providerDir, { recursive: true });
    }
  },
});

/** A real database with `n` rows, all in the main file (no WAL). */
function realDatabase(file: string, n: number): void {
  const db = openStore(file);
  const writer = new RowWriter(db, { intervalMs: 60_000 });
  for (let i = 0; i < n; i++) writer.enqueue(makeRow({ project: `p${i % 7}` }));
  writer.close();
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  db.close();
}

const PAGE_SIZE = 4096;

/** Overwrites every other page of `file` from `first` (a page number) to `end` (a fraction of the file) with random bytes. */
function corruptPages(file: string, first: (pages: number) => number, end = 1): void {
  const pages = Deno.statSync(file).size / PAGE_SIZE;
  assert.ok(pages > 8, `only ${pages} pages`);
  const f = Deno.openSync(file, { write: true });
  try {
    for (let page = first(pages); page < pages * end; page += 2) {
      f.seekSync(page * PAGE_SIZE, Deno.SeekMode.Start);
      f.writeSync(crypto.getRandomValues(new Uint8Array(PAGE_SIZE)));
    }
  } finally {
    f.close();
  }
}

/** A real database with `n` rows, then every other page after the first two overwritten with random bytes. */
function corruptedDatabase(file: string, n: number): void {
  realDatabase(file, n);
  corruptPages(file, () => 2);
}

function noStackTrace(out: { stderr: string }): void {
  assert.doesNotMatch(out.stderr, /^\s+at /m, out.stderr);
  assert.doesNotMatch(out.stderr, /Uncaught|error: Uncaught/, out.stderr);
}

Deno.test("a corrupted database is named by the daemon, status and report, never written into, never deleted", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hm-corrupt-" });
  const home = join(dir, ".halton-meter");
  Deno.mkdirSync(home);
  const env = { HALTON_METER_HOME: home, HOME: dir };
  const file = join(home, "db.sqlite");
  try {
    corruptedDatabase(file, 3000);
    const before = Deno.readFileSync(file);
    await pinPorts(home);

    const daemon = await meterCommand(home, ["daemon"], { stderr: "piped" }).output();
    const said = new TextDecoder().decode(daemon.stderr);
    assert.equal(daemon.code, 1, said);
    assert.match(said, /db\.sqlite is corrupted/);
    assert.match(said, /move .*db\.sqlite aside/);
    noStackTrace({ stderr: said });

    const status = await statusComponent(home, "database");
    assert.equal(status?.ok, false);
    assert.match(status?.detail ?? "", /db\.sqlite is corrupted/);

    const report = await runCli(["report"], env);
    assert.equal(report.code, 1, report.stderr);
    assert.match(report.stderr, /db\.sqlite is corrupted[^]*hint: Stop the meter/);
    noStackTrace(report);

    assert.deepEqual(Deno.readFileSync(file), before, "the damaged file is left exactly as it was");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Every command that uses the meter's folder, as a user or a service runs it. */
const HOME_COMMANDS = [["status"], ["report"], ["init", "--dry-run"], ["daemon"], ["edge"]];

Deno.test("a database damaged while the daemon runs: the background check names it, nothing more is written into it, traffic flows", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hm-corrupt-live-" });
  const providerDir = await Deno.makeTempDir({ prefix: "hm-corrupt-live-provider-" });
  const home = join(dir, ".halton-meter");
  Deno.mkdirSync(home);
  const file = join(home, "db.sqlite");
  realDatabase(file, 3000);
  const meter = await startMeter(home, providerDir, "[daemon]\nintegrity_check_s = 1\n");
  try {
    assert.equal(await meter.call(), 200);
    await waitFor("the row", () => Promise.resolve(meter.rows() === 3001), 10_000);
    assert.equal((await meter.health()).store.writing, true);
    // Old rows in the middle of the file: a new row goes to the end of the tables, never there.
    corruptPages(file, (pages) => Math.floor(pages / 3), 2 / 3);
    await waitFor(
      "status to name the damage",
      async () => /the database is corrupted/.test((await statusComponent(home, "store"))?.detail ?? ""),
      20_000,
    );
    const store = await statusComponent(home, "store");
    assert.equal(store?.ok, false);
    assert.match(store?.detail ?? "", /^rows are not being written: the database is corrupted/);
    const doctor = await runCli(["doctor", "--json"], { HALTON_METER_HOME: home, HOME: home });
    const checks = JSON.parse(doctor.stdout).checks as { status: string; detail: string; next?: string }[];
    const writer = checks.find((c) => c.detail.startsWith("rows are not being written"));
    assert.equal(writer?.status, "broken", doctor.stdout);
    assert.match(writer?.detail ?? "", /the database is corrupted/);
    assert.match(writer?.next ?? "", new RegExp(`move ${file} aside \\(nothing is deleted\\)`));

    assert.equal(await meter.call(), 200, "traffic flows past a damaged database");
    await waitFor("the row to be queued", async () => (await meter.health()).store.queued === 1, 10_000);
    const health = (await meter.health()).store;
    assert.deepEqual([health.writing, health.written, health.dropped], [false, 1, 0]);
    const findings = Deno.readTextFileSync(join(home, "logs", "daemon.jsonl")).split("\n").filter(Boolean)
      .map((l) => JSON.parse(l)).filter((e) => e.event === "store.flush_failed");
    assert.equal(findings.length, 1, JSON.stringify(findings));
    assert.match(findings[0].error, /db\.sqlite is (corrupted|not a SQLite database)/);
  } finally {
    await meter.stop();
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(providerDir, { recursive: true });
  }
});

Deno.test("a meter folder that is a file gets a clean error naming the path, from every command", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hm-home-file-" });
  const home = join(dir, "not-a-folder");
  Deno.writeTextFileSync(home, "x");
  try {
    for (const args of HOME_COMMANDS) {
      const out = await runCli(args, { HALTON_METER_HOME: home, HOME: dir });
      assert.equal(out.code, 1, `${args}: ${out.stderr}`);
      assert.match(out.stderr, new RegExp(`halton-meter: ${home} \\(the meter's folder\\) is a file`));
      assert.match(out.stderr, /hint: /);
      noStackTrace(out);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "`up` on a home turned read-only: the edge passes traffic, and the daemon starts once the folder takes writes",
  ignore: !CAN_MOUNT,
  async fn() {
    const { disk, home, providerDir } = await homeOnSmallDisk("up-ro");
    const { provider, ports } = await providerHome(home, providerDir);
    let up: Deno.ChildProcess | undefined;
    try {
      const first = spawnMeter(home, "daemon");
      await waitFor("a healthy daemon", () => daemonHealthy(ports.api), 20_000);
      await stop(first);
      remount(disk, "ro");

      up = spawnMeter(home, "up", { stderr: "piped" });
      let said = "";
      const reading = (async () => {
        for await (const text of up.stderr.pipeThrough(new TextDecoderStream())) said += text;
      })();
      await waitFor("up's word on the daemon", () => Promise.resolve(said.includes("tried again")), 20_000);
      assert.match(said, new RegExp(`the daemon is tried again once ${home} takes writes`), said);
      await waitFor("the edge", () => accepts(ports.edge), 20_000);
      assert.equal((await chatThrough(ports.edge, provider.caPem)).status, 200, "passed through unmetered");

      remount(disk, "rw");
      await waitFor("the daemon, once the folder takes writes", () => daemonHealthy(ports.api), 20_000);
      assert.equal((await stop(up)).code, 0);
      await reading;
    } finally {
      if (up) await stop(up);
      try {
        remount(disk, "rw");
      } catch { /* rw already */ }
      await provider.close();
      unmount(disk);
      await Deno.remove(providerDir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "a command that must write into a read-only home names the file system and what to do, without a stack trace",
  ignore: !CAN_MOUNT,
  async fn() {
    const disk = smallDisk("1m")!;
    const home = join(disk, ".halton-meter");
    Deno.mkdirSync(home);
    remount(disk, "ro");
    try {
      const out = await runCli(["stop"], { HALTON_METER_HOME: home, HOME: disk });
      assert.equal(out.code, 1, out.stderr);
      assert.equal(
        out.stderr,
        `halton-meter: cannot write ${home}/run: ${home} is on a read-only file system\n` +
          `hint: Make the file system that holds ${home} writable again (remount it read-write, or check the ` +
          "disk for errors), then run the command again.\n",
      );
    } finally {
      remount(disk, "rw");
      unmount(disk);
    }
  },
});

/**
 * `halton-meter <args>` as a user whom file modes bind: root without the capabilities that override them
 * (`setpriv`), or the user running the tests when that is not root.
 */
function runBoundByModes(args: string[], env: Record<string, string>): Promise<CliResult> {
  const wrapper = Deno.uid() === 0 ? ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] : [];
  return runCli(args, env, MAIN, wrapper);
}

const CAN_DROP_OVERRIDE = Deno.build.os === "linux" &&
  (Deno.uid() !== 0 ||
    new Deno.Command("setpriv", { args: ["--bounding-set=-dac_override", "true"], stderr: "null" })
      .outputSync().success);

Deno.test({
  name: "a meter folder this user cannot read gets a clean error naming the path, from every command",
  ignore: !CAN_DROP_OVERRIDE,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "hm-home-unreadable-" });
    const home = join(dir, ".halton-meter");
    Deno.mkdirSync(home);
    Deno.writeTextFileSync(join(home, "config.toml"), "");
    Deno.chmodSync(home, 0o000);
    try {
      // The folder itself, and a folder inside it (whose very existence cannot be checked).
      for (
        const [meterHome, args] of [home, join(home, "inner")].flatMap((h) =>
          HOME_COMMANDS.map((a) => [h, a] as const)
        )
      ) {
        const out = await runBoundByModes(args, { HALTON_METER_HOME: meterHome, HOME: dir });
        assert.equal(out.code, 1, `${args}: ${out.stderr}`);
        assert.match(
          out.stderr,
          new RegExp(
            `halton-meter: ${meterHome} \\(the meter's folder\\) cannot be read: .*[Pp]ermission denied`,
          ),
        );
        assert.match(out.stderr, /hint: Give this user access to it/);
        noStackTrace(out);
      }
    } finally {
      Deno.chmodSync(home, 0o700);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** Every entry under `dir` with its permission bits, e.g. `logs/daemon.jsonl` → 0o600. */
function modes(dir: string, prefix = ""): Map<string, number> {
  const out = new Map<string, number>();
  for (const e of Deno.readDirSync(dir)) {
    const path = join(dir, e.name);
    const name = prefix + e.name;
    out.set(name, Deno.lstatSync(path).mode! & 0o777);
    if (e.isDirectory) { for (const [k, v] of modes(path, `${name}/`)) out.set(k, v); }
  }
  return out;
}

Deno.test({
  name: "the meter's folder is 0700 and every file in it 0600, the database's WAL and SHM included",
  ignore: Deno.build.os === "windows",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "hm-modes-" });
    const providerDir = await Deno.makeTempDir({ prefix: "hm-modes-provider-" });
    const home = join(dir, ".halton-meter");
    // As an older install left it: a world-readable folder and files.
    Deno.mkdirSync(home, { mode: 0o755 });
    Deno.chmodSync(home, 0o755);
    const meter = await startMeter(home, providerDir);
    try {
      assert.equal(await meter.call(), 200);
      await waitFor("the row", () => Promise.resolve(meter.rows() === 1), 10_000);
      assert.equal(Deno.statSync(home).mode! & 0o777, 0o700);
      const all = modes(home);
      for (
        const name of ["db.sqlite", "db.sqlite-wal", "db.sqlite-shm", "config.toml", "effective-ports.json"]
      ) {
        assert.ok(all.has(name), `${name} exists`);
      }
      assert.ok(all.has("logs/daemon.jsonl") && all.has("logs/edge.jsonl"));
      for (const [name, mode] of all) {
        const isDir = Deno.statSync(join(home, name)).isDirectory;
        // The CA's certificate is public (trust tools read it); its key is 0600 like everything else.
        const want = isDir ? 0o700 : name === ".mitmproxy/mitmproxy-ca-cert.pem" ? 0o644 : 0o600;
        assert.equal(mode.toString(8), want.toString(8), name);
      }
    } finally {
      await meter.stop();
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(providerDir, { recursive: true });
    }
  },
});

/** Resident memory of `pid` in MB, from /proc. */
function rssMb(pid: number): number {
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(Deno.readTextFileSync(`/proc/${pid}/status`))?.[1];
  return Number(kb) / 1024;
}

/** CPU seconds `pid` has used, from /proc (utime + stime). */
function cpuSeconds(pid: number): number {
  const fields = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** How far above its resting memory the daemon may stay once a storm of connections is over. */
const RSS_MARGIN_MB = 30;

Deno.test({
  name:
    "2,000 idle CONNECTs to a metered host: the daemon stays under 300 MB, drops them in seconds, and is back to rest after",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "hm-idle-" });
    const providerDir = await Deno.makeTempDir({ prefix: "hm-idle-provider-" });
    const home = join(dir, ".halton-meter");
    Deno.mkdirSync(home);
    const meter = await startMeter(home, providerDir);
    const conns: Deno.TcpConn[] = [];
    try {
      assert.equal(await meter.call(), 200);
      await new Promise((r) => setTimeout(r, 1000));
      const resting = rssMb(meter.daemonPid);
      let peak = resting;
      const sampler = setInterval(() => {
        peak = Math.max(peak, rssMb(meter.daemonPid));
      }, 100);
      const count = 2000;
      const connect = new TextEncoder().encode(
        "CONNECT api.openai.com:443 HTTP/1.1\r\nHost: api.openai.com:443\r\n\r\n",
      );
      const buf = new Uint8Array(256);
      let established = 0;
      const started = performance.now();
      try {
        for (let i = 0; i < count; i += 100) {
          const wave = await Promise.all(Array.from({ length: 100 }, async () => {
            // Straight to the daemon's intercept port (as a client using it as its proxy does): the edge would
            // tunnel past a daemon too busy to take a handover in time, and this is about the daemon.
            const conn = await Deno.connect({ hostname: "127.0.0.1", port: meter.ports.intercept });
            conns.push(conn);
            await conn.write(connect);
            const n = await conn.read(buf);
            return n !== null && new TextDecoder().decode(buf.subarray(0, n)).startsWith("HTTP/1.1 200");
          }));
          established += wave.filter(Boolean).length;
        }
        assert.equal(established, count, "every CONNECT was answered 200");
        const establishedAfter = (performance.now() - started) / 1000;
        // None sends a ClientHello: the daemon must drop them all, in seconds.
        const closed = await Promise.all(conns.map(async (c) => {
          const timer = setTimeout(() => c.close(), 60_000);
          try {
            return await c.read(buf) === null;
          } catch {
            return true;
          } finally {
            clearTimeout(timer);
          }
        }));
        const dropAfter = (performance.now() - started) / 1000;
        assert.ok(closed.every(Boolean), "each idle connection was closed by the meter");
        assert.ok(
          dropAfter - establishedAfter < 30,
          `dropped ${(dropAfter - establishedAfter).toFixed(1)} s after`,
        );
      } finally {
        clearInterval(sampler);
        for (const c of conns) {
          try {
            c.close();
          } catch { /* closed by the timer */ }
        }
      }
      assert.ok(peak < 300, `peak ${peak.toFixed(0)} MB (resting ${resting.toFixed(0)} MB)`);
      // Back near rest within seconds: measured about 4 s after the last socket closed, about resting + 15 MB
      // (code and allocator space the storm touched once). V8 left to its default timers held about resting +
      // 60 MB of emptied heap pages for 15 to 20 s.
      const backBy = performance.now() + 8_000;
      let now = rssMb(meter.daemonPid);
      while (now > resting + RSS_MARGIN_MB && performance.now() < backBy) {
        await new Promise((r) => setTimeout(r, 250));
        now = rssMb(meter.daemonPid);
      }
      assert.ok(
        now <= resting + RSS_MARGIN_MB,
        `${now.toFixed(0)} MB 8 s after the sockets closed (resting ${resting.toFixed(0)} MB, peak ${
          peak.toFixed(0)
        } MB)`,
      );
      // Back to rest: within a few seconds, the daemon uses less than a tenth of a core.
      let idle = false;
      for (let i = 0; i < 10 && !idle; i++) {
        const before = cpuSeconds(meter.daemonPid);
        await new Promise((r) => setTimeout(r, 1000));
        idle = cpuSeconds(meter.daemonPid) - before < 0.1;
      }
      assert.ok(idle, "the daemon is idle again within seconds");
      assert.equal(await meter.call(), 200);
      await waitFor("both rows", () => Promise.resolve(meter.rows() === 2), 10_000);
      console.log(
        `2,000 idle CONNECTs: resting ${resting.toFixed(0)} MB, peak ${peak.toFixed(0)} MB, ${
          now.toFixed(0)
        } MB once closed, now ${rssMb(meter.daemonPid).toFixed(0)} MB`,
      );
    } finally {
      await meter.stop();
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(providerDir, { recursive: true });
    }
  },
});

/** Another process holding `file` in `BEGIN EXCLUSIVE`: it prints "locked", and lets go when its stdin closes. */
function holdExclusive(file: string): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      "--no-config",
      `import { DatabaseSync } from "node:sqlite";
const db = new DatabaseSync(${JSON.stringify(file)});
db.exec("BEGIN EXCLUSIVE");
console.log("locked");
for await (const _ of Deno.stdin.readable) { /* hold until the test closes stdin */ }
db.exec("ROLLBACK");
db.close();`,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
}

Deno.test("a database locked by another program: traffic flows, status names the lock, rows land once it is let go", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hm-locked-" });
  const providerDir = await Deno.makeTempDir({ prefix: "hm-locked-provider-" });
  const home = join(dir, ".halton-meter");
  Deno.mkdirSync(home);
  const meter = await startMeter(home, providerDir);
  assert.equal(await meter.call(), 200);
  await waitFor("the first row", () => Promise.resolve(meter.rows() === 1), 10_000);
  // Another program (a database browser, a sqlite3 shell) holding the database in an exclusive transaction.
  const holder = holdExclusive(join(home, "db.sqlite"));
  const reader = holder.stdout.getReader();
  try {
    await reader.read();
    const during = 10;
    for (let i = 0; i < during; i++) {
      assert.equal(await meter.call(), 200, "traffic flows past a locked database");
    }
    await waitFor("the writer to report the lock", async () => !(await meter.health()).store.writing, 10_000);
    const store = await statusComponent(home, "store");
    assert.equal(store?.ok, false);
    assert.match(
      store?.detail ?? "",
      /^rows are not being written: the database is locked by another program/,
    );
    const doctor = await runCli(["doctor", "--json"], { HALTON_METER_HOME: home, HOME: home });
    const checks = JSON.parse(doctor.stdout).checks as { status: string; detail: string; next?: string }[];
    const writer = checks.find((c) => c.detail.startsWith("rows are not being written"));
    assert.equal(writer?.status, "broken", doctor.stdout);
    assert.match(writer?.detail ?? "", /the database is locked by another program/);
    assert.match(writer?.next ?? "", /Close the program that holds/);
    reader.releaseLock();
    await holder.stdin.close();
    await holder.status;
    await waitFor("every row written", () => Promise.resolve(meter.rows() === 1 + during), 15_000);
    const after = (await meter.health()).store;
    assert.deepEqual([after.writing, after.queued, after.dropped], [true, 0, 0]);
  } finally {
    try {
      reader.releaseLock();
      await holder.stdin.close();
    } catch { /* closed already */ }
    await holder.stdout.cancel().catch(() => {});
    await holder.status;
    await meter.stop();
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(providerDir, { recursive: true });
  }
});

Deno.test("rows that still cannot be written when the daemon stops are counted in its log, not lost silently", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hm-lost-" });
  const providerDir = await Deno.makeTempDir({ prefix: "hm-lost-provider-" });
  const home = join(dir, ".halton-meter");
  Deno.mkdirSync(home);
  const meter = await startMeter(home, providerDir);
  const holder = holdExclusive(join(home, "db.sqlite"));
  const reader = holder.stdout.getReader();
  let stopped = false;
  try {
    await reader.read();
    for (let i = 0; i < 3; i++) assert.equal(await meter.call(), 200);
    await waitFor("the writer to report the lock", async () => !(await meter.health()).store.writing, 10_000);
    stopped = true;
    await meter.stop();
    const events = Deno.readTextFileSync(join(home, "logs", "daemon.jsonl")).split("\n").filter(Boolean)
      .map((l) => JSON.parse(l));
    const lost = events.find((e) => e.event === "store.rows_lost_at_stop");
    assert.equal(lost?.rows, 3, JSON.stringify(events.slice(-5)));
    assert.equal(lost?.reason, "the database is locked by another program");
    assert.equal(events.findLast((e) => e.event === "daemon.exit")?.rows_dropped, 3);
  } finally {
    reader.releaseLock();
    await holder.stdin.close().catch(() => {});
    await holder.stdout.cancel().catch(() => {});
    await holder.status;
    if (!stopped) await meter.stop();
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(providerDir, { recursive: true });
  }
});

/** `mount -o remount,<how>` of a tmpfs from {@linkcode smallDisk}; Linux refuses `ro` while a file on it is open for writing. */
function remount(dir: string, how: "ro" | "rw"): void {
  const out = new Deno.Command("mount", { args: ["-o", `remount,${how}`, dir], stderr: "piped" })
    .outputSync();
  assert.ok(out.success, `remount ${how}: ${new TextDecoder().decode(out.stderr)}`);
}

Deno.test({
  name:
    "a read-only home: the edge keeps traffic flowing, the daemon and status name the read-only folder, rows resume once it is writable",
  ignore: !CAN_MOUNT,
  async fn() {
    const { disk, home, providerDir } = await homeOnSmallDisk("ro");
    const { provider, ports } = await providerHome(home, providerDir);
    const children: Deno.ChildProcess[] = [];
    try {
      // A first start makes the database and the CA, as any install has them.
      const first = spawnMeter(home, "daemon");
      await waitFor("a healthy daemon", () => daemonHealthy(ports.api), 20_000);
      await stop(first);
      // The file system turns read-only, as Linux does to a disk after an error.
      remount(disk, "ro");

      const edge = spawnMeter(home, "edge");
      children.push(edge);
      await waitFor("the edge on a read-only home", () => accepts(ports.edge), 20_000);
      const refused = await meterCommand(home, ["daemon"], { stderr: "piped" }).output();
      const said = new TextDecoder().decode(refused.stderr);
      assert.equal(refused.code, 1, said);
      assert.match(
        said,
        new RegExp(`${home}/db\\.sqlite cannot be written: ${home} is on a read-only file system`),
      );
      assert.match(said, /hint: Make the file system that holds .* writable again/);
      noStackTrace({ stderr: said });

      const store = await statusComponent(home, "store");
      assert.equal(store?.ok, false);
      assert.equal(
        store?.detail,
        `rows are not being written: ${home} is on a read-only file system; traffic passes unmetered`,
      );
      const doctor = await runCli(["doctor", "--json"], { HALTON_METER_HOME: home, HOME: home });
      const checks = JSON.parse(doctor.stdout).checks as { layer: string; status: string; detail: string }[];
      assert.deepEqual(
        checks.filter((c) => c.layer === "database").map((c) => [c.status, c.detail]),
        [["broken", `rows are not being written: ${home} is on a read-only file system`]],
      );

      // Apps keep working: the edge tunnels the call straight to the provider.
      const tunnelled = await chatThrough(ports.edge, provider.caPem);
      assert.deepEqual([tunnelled.status, tunnelled.body], [200, COMPLETION]);

      // Writable again: the daemon starts, and a call through it is one row.
      remount(disk, "rw");
      children.push(spawnMeter(home, "daemon"));
      await waitFor("a healthy daemon", () => daemonHealthy(ports.api), 20_000);
      assert.equal((await statusComponent(home, "store"))?.ok, true);
      const caPem = Deno.readTextFileSync(join(home, ".mitmproxy", "mitmproxy-ca-cert.pem"));
      assert.equal((await chatThrough(ports.intercept, caPem)).status, 200);
      await waitFor("the row", () => Promise.resolve(requestRows(home) === 1), 10_000);
    } finally {
      for (const c of children.reverse()) await stop(c);
      await provider.close();
      try {
        remount(disk, "rw");
      } catch { /* rw already */ }
      unmount(disk);
      await Deno.remove(providerDir, { recursive: true });
    }
  },
});
