import assert from "node:assert/strict";
import { parseInvocation } from "../../cli/command.ts";
import { command, execute } from "../../cli/doctor.ts";
import type { Check, Verdict } from "../../setup/doctor.ts";
import { captureIo } from "../helpers/io.ts";
import { type Fixture, fixture } from "../setup/_fixture.ts";
import { describeChannel } from "../../core/channel.ts";
import { initMachine, upInForeground } from "./_init.ts";

const UNIT = "/home/ada/.config/systemd/user/halton-meter.service";

async function installed(): Promise<Fixture> {
  const f = await fixture("linux");
  await initMachine(f);
  f.board.edge = f.board.daemon = true;
  return f;
}

async function doctor(f: Fixture, args: string[] = [], env?: Record<string, string>) {
  const out = captureIo(f.paths);
  const code = await execute(
    out.io,
    parseInvocation("doctor", command, ["--json", ...args]),
    f.machine({ env }).m,
  );
  const r = JSON.parse(out.stdout()) as { verdict: Verdict; checks: Check[]; fixed: boolean };
  return {
    code,
    ...r,
    failing: r.checks.filter((c) => c.status === "inconsistent" || c.status === "broken"),
  };
}

Deno.test("doctor after a clean init is HEALTHY and exits 0", async () => {
  await using f = await installed();
  const r = await doctor(f);
  assert.deepEqual(r.failing, []);
  assert.equal(r.verdict, "HEALTHY");
  assert.equal(r.code, 0);
  assert.deepEqual(
    new Set(r.checks.map((c) => c.layer)),
    new Set(["ca", "trust", "certifi", "env", "ports", "services", "database"]),
  );
});

Deno.test("doctor agrees with status while 'up' runs in the foreground: its services are fine", async () => {
  await using f = await fixture("linux");
  const noSystemd = await upInForeground(f);
  const out = captureIo(f.paths);
  await execute(out.io, parseInvocation("doctor", command, ["--json"]), f.machine({ script: noSystemd }).m);
  const r = JSON.parse(out.stdout()) as { checks: Check[] };
  assert.deepEqual(r.checks.filter((c) => c.layer === "services"), [{
    layer: "services",
    status: "ok",
    detail: "edge and daemon run in the foreground ('halton-meter up'), not supervised",
  }]);
});

Deno.test("doctor names the values of config.toml the edge had to ignore: INCONSISTENT, with where to fix them", async () => {
  await using f = await installed();
  f.fs.write(f.paths.config, '[edge]\nport = "x"\n');
  const r = await doctor(f);
  assert.equal(r.verdict, "INCONSISTENT");
  assert.deepEqual(r.failing.map((c) => [c.layer, c.status]), [["config", "inconsistent"]]);
  assert.match(r.failing[0].detail, /edge\.port.*expected a port number/);
  assert.match(r.failing[0].next ?? "", /Fix config\.toml/);
});

Deno.test("doctor calls a hand-edited unit INCONSISTENT with 'run init to rewrite it'; --fix rewrites it", async () => {
  await using f = await installed();
  f.fs.write(UNIT, f.fs.readText(UNIT)!.replace("RestartSec=1", "RestartSec=30"));
  const r = await doctor(f);
  assert.equal(r.verdict, "INCONSISTENT");
  assert.equal(r.code, 3);
  assert.deepEqual(r.failing.map((c) => [c.layer, c.next]), [[
    "services",
    "Run 'halton-meter init' to rewrite it.",
  ]]);
  const fixed = await doctor(f, ["--fix"]);
  assert.equal(fixed.fixed, true);
  assert.equal(fixed.verdict, "HEALTHY");
  assert.match(f.fs.readText(UNIT)!, /RestartSec=1\n/);
});

Deno.test("doctor calls a proxy variable pointing at a dead port BROKEN, with a next step", async () => {
  await using f = await installed();
  const r = await doctor(f, [], { HTTPS_PROXY: "http://127.0.0.1:8099" });
  assert.equal(r.verdict, "BROKEN");
  const env = r.failing.find((c) => c.layer === "env")!;
  assert.match(env.detail, /HTTPS_PROXY=http:\/\/127\.0\.0\.1:8099/);
  assert.ok(env.next);
});

Deno.test("doctor finds a damaged database with quick_check and an unpatched certifi after a pip upgrade", async () => {
  await using f = await installed();
  f.fs.write(f.paths.db, "this is not a database at all, just text long enough to be read as a header....");
  f.fs.write("/usr/lib/python3/dist-packages/certifi/cacert.pem", "# fresh certifi\n");
  const r = await doctor(f);
  assert.equal(r.verdict, "BROKEN");
  assert.deepEqual(r.failing.map((c) => c.layer).sort(), ["certifi", "database"]);
});

Deno.test("doctor with the daemon down is BROKEN and says how to start it; without a CA it says run init", async () => {
  await using f = await installed();
  f.board.daemon = false;
  const down = await doctor(f);
  assert.equal(down.verdict, "BROKEN");
  assert.match(down.failing.find((c) => c.layer === "ports")!.next!, /halton-meter start/);
  f.fs.remove(f.paths.caCert);
  f.fs.remove(f.paths.caKeyAndCert);
  const noCa = await doctor(f);
  assert.match(noCa.failing.find((c) => c.layer === "ca")!.next!, /halton-meter init/);
});

Deno.test("doctor tells support where the binary came from and how to upgrade or roll it back", async () => {
  await using f = await installed();
  const out = captureIo(f.paths);
  await execute(
    out.io,
    parseInvocation("doctor", command, ["--json"]),
    f.machine().m,
    describeChannel("fleet"),
  );
  const { channel } = JSON.parse(out.stdout());
  assert.equal(channel.name, "fleet");
  assert.match(channel.upgrade, /halton-meter-rollout\.sh --version/);
  assert.match(channel.rollback, /--rollback/);
  const human = captureIo(f.paths);
  await execute(human.io, parseInvocation("doctor", command, []), f.machine().m, describeChannel("homebrew"));
  assert.match(human.stdout(), /Channel: homebrew\n {2}upgrade: {2}brew upgrade halton-meter/);
});
