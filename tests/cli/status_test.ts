import assert from "node:assert/strict";
import { parseInvocation } from "../../cli/command.ts";
import { command, execute } from "../../cli/status.ts";
import type { StatusReport } from "../../setup/status.ts";
import { captureIo } from "../helpers/io.ts";
import { fixture } from "../setup/_fixture.ts";
import { describeChannel } from "../../core/channel.ts";
import { initMachine, NO_SYSTEMD, upInForeground } from "./_init.ts";

const json = parseInvocation("status", command, ["--json"]);

Deno.test("status before init is unhealthy (exit 3) and says to run init", async () => {
  await using f = await fixture("linux");
  const out = captureIo(f.paths);
  assert.equal(await execute(out.io, json, f.machine().m), 3);
  const r = JSON.parse(out.stdout()) as StatusReport;
  assert.equal(r.healthy, false);
  assert.match(r.next ?? "", /halton-meter init/);
});

Deno.test("status after init with everything up is healthy and names every component", async () => {
  await using f = await fixture("linux");
  await initMachine(f);
  f.board.edge = f.board.daemon = true;
  const out = captureIo(f.paths);
  assert.equal(await execute(out.io, json, f.machine().m), 0);
  const r = JSON.parse(out.stdout()) as StatusReport;
  assert.equal(r.healthy, true);
  assert.deepEqual(r.components.map((c) => c.name), [
    "edge",
    "daemon",
    "api",
    "services",
    "ca",
    "trust",
    "env",
  ]);
  assert.equal(r.components.find((c) => c.name === "api")?.detail, "/health ok, version 0.1.0");
  assert.equal(r.serviceManager, "systemd");
});

Deno.test("status with the daemon down is unhealthy and the table marks it", async () => {
  await using f = await fixture("linux");
  await initMachine(f);
  f.board.edge = true;
  const out = captureIo(f.paths);
  assert.equal(await execute(out.io, parseInvocation("status", command, []), f.machine().m), 3);
  assert.match(out.stdout(), /UNHEALTHY/);
  assert.match(out.stdout(), /^daemon\s+stopped ✗/m);
  assert.match(out.stdout(), /^edge\s+running /m);
});

Deno.test("status is healthy while 'up' runs edge and daemon in the foreground, even before init", async () => {
  await using f = await fixture("linux");
  const noSystemd = await upInForeground(f);
  const out = captureIo(f.paths);
  assert.equal(await execute(out.io, json, f.machine({ script: noSystemd }).m), 0);
  const r = JSON.parse(out.stdout()) as StatusReport;
  assert.equal(r.healthy, true);
  assert.equal(r.components.find((c) => c.name === "services")?.state, "foreground");
});

Deno.test("status does not take another home's 'up' on the same ports for this home's", async () => {
  await using f = await fixture("linux");
  const noSystemd = await upInForeground(f, false);
  const out = captureIo(f.paths);
  assert.equal(await execute(out.io, json, f.machine({ script: noSystemd }).m), 3);
  const r = JSON.parse(out.stdout()) as StatusReport;
  assert.equal(r.components.find((c) => c.name === "services")?.state, "stopped");
});

Deno.test("status after the built-in supervisor died says to start it again, not to run init", async () => {
  await using f = await fixture("linux");
  await initMachine(f, true);
  f.board.edge = f.board.daemon = true;
  f.supervisor.info = undefined;
  const out = captureIo(f.paths);
  assert.equal(await execute(out.io, json, f.machine({ script: NO_SYSTEMD }).m), 3);
  assert.equal((JSON.parse(out.stdout()) as StatusReport).next, "Run 'halton-meter start --detach'.");
});

Deno.test("status names the channel the binary came from, in JSON and in the heading", async () => {
  await using f = await fixture("linux");
  const channel = describeChannel("install-script");
  const out = captureIo(f.paths);
  await execute(out.io, json, f.machine().m, channel);
  assert.deepEqual(JSON.parse(out.stdout()).channel, channel);
  const human = captureIo(f.paths);
  await execute(human.io, parseInvocation("status", command, []), f.machine().m, channel);
  assert.match(human.stdout(), /^halton-meter 0\.1\.0 from install-script: UNHEALTHY/);
});

Deno.test("status fits its table to the terminal: details under their rows when they do not fit beside them", async () => {
  await using f = await fixture("linux");
  for (const columns of [140, 100, 60]) {
    const out = captureIo(f.paths, { columns });
    await execute(out.io, parseInvocation("status", command, []), f.machine().m);
    const lines = out.stdout().split("\n");
    for (const line of lines) {
      assert.ok([...line].length <= columns, `${[...line].length} > ${columns}: ${line}`);
    }
    const at = lines.findIndex((l) => l.startsWith("edge "));
    if (columns === 140) assert.match(lines[at], /nothing listens on 127\.0\.0\.1:\d+$/);
    else assert.match(lines[at + 1], /^ {4}nothing listens on 127\.0\.0\.1:\d+$/);
  }
});

Deno.test("status names a daemon that cannot start, with the reason and its next step", async () => {
  await using f = await fixture("linux");
  await initMachine(f);
  f.board.edge = true;
  f.fs.write(
    `${f.paths.run}/daemon-error.json`,
    JSON.stringify({
      at: "2026-01-02T03:04:05.000Z",
      version: "0.1.0",
      pid: 42,
      count: 3,
      message: "db.sqlite is not a SQLite database",
      hint: "Move db.sqlite aside.",
    }),
  );
  const out = captureIo(f.paths);
  assert.equal(await execute(out.io, json, f.machine().m), 3);
  const r = JSON.parse(out.stdout()) as StatusReport;
  const daemon = r.components.find((c) => c.name === "daemon")!;
  assert.equal(daemon.state, "crash loop");
  assert.match(daemon.detail, /cannot start \(3 tries in a row\): db\.sqlite is not a SQLite database/);
  assert.equal(r.next, "Move db.sqlite aside.");
});

Deno.test("status reports the versions, an upgrade not applied, and what the edge let through unmetered", async () => {
  await using f = await fixture("linux");
  await initMachine(f);
  f.board.edge = f.board.daemon = true;
  f.fs.write(
    `${f.paths.run}/edge.json`,
    JSON.stringify({
      pid: Deno.pid,
      version: "0.0.9",
      port: 8081,
      started_at: "2026-01-02T03:04:05.000Z",
      unmetered: {
        tunnels: 4,
        bytes: 1234,
        open: 1,
        reclaimed: 3,
        first_at: "2026-01-02T04:00:00.000Z",
        last_at: "2026-01-02T04:00:02.000Z",
      },
    }),
  );
  const out = captureIo(f.paths);
  assert.equal(await execute(out.io, json, f.machine().m), 0);
  const r = JSON.parse(out.stdout()) as StatusReport;
  assert.deepEqual(r.versions, { binary: "0.1.0", edge: "0.0.9", daemon: "0.1.0" });
  assert.equal(r.notes.length, 2);
  assert.match(r.notes[0], /the edge runs version 0\.0\.9/);
  assert.match(r.notes[1], /4 connections to metered hosts \(1234 bytes\) went straight to the provider/);
  assert.match(r.notes[1], /\(1 still open, closed when idle\)/);
});
