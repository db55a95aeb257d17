import assert from "node:assert/strict";
import { command, execute, renderOutcome } from "../../cli/init.ts";
import { parseInvocation } from "../../cli/command.ts";
import { ExitCode, MeterError, UsageError } from "../../core/errors.ts";
import { NOT_FOUND } from "../../platform/runner.ts";
import type { InitResult } from "../../setup/init.ts";
import type { SystemState } from "../../setup/state.ts";
import { captureIo } from "../helpers/io.ts";
import { tempHome } from "../helpers/home.ts";
import { fixture } from "../setup/_fixture.ts";
import { listFiles } from "../setup/_machine.ts";
import { checkCertifi } from "../../setup/doctor.ts";
import { gatherFacts } from "../../setup/inspect.ts";

const UNIT = "/home/ada/.config/systemd/user/halton-meter.service";
const EDGE_UNIT = "/home/ada/.config/systemd/user/halton-meter-edge.service";

function inv(...argv: string[]) {
  return parseInvocation("init", command, argv);
}

Deno.test("init --dry-run --json prints every file with its contents and every command, and touches nothing", async () => {
  await using f = await fixture("linux");
  const before = listFiles(f.root);
  const { m, runner } = f.machine();
  const out = captureIo(f.paths);
  assert.equal(await execute(out.io, inv("--dry-run", "--json", "--apps"), m), 0);
  const plan = JSON.parse(out.stdout()) as InitResult;
  assert.equal(plan.dryRun, true);
  const files = plan.steps.flatMap((s) => s.files);
  const unit = files.find((x) => x.path === UNIT);
  assert.match(unit?.content ?? "", /^ExecStart=\/opt\/a\/halton-meter daemon --slot a$/m);
  assert.ok(
    files.some((x) =>
      x.path.endsWith("environment.d/90-halton-meter.conf") && x.content?.includes("HTTPS_PROXY=")
    ),
  );
  const commands = plan.steps.flatMap((s) => s.commands.map((c) => c.line));
  assert.ok(commands.includes("systemctl --user restart halton-meter-edge.service halton-meter.service"));
  assert.ok(plan.steps.flatMap((s) => s.commands).every((c) => c.status === "planned"));
  assert.deepEqual(listFiles(f.root), before, "nothing written");
  assert.deepEqual(runner.lines(), [
    "systemctl --user show-environment",
    "/usr/bin/python3 -c import certifi;print(certifi.where())",
  ], "only read-only probes ran");
});

Deno.test("init --dry-run prints its plan once, in the future tense", async () => {
  await using f = await fixture("linux");
  const { m } = f.machine();
  const out = captureIo(f.paths);
  assert.equal(await execute(out.io, inv("--dry-run", "--apps"), m), 0);
  const text = [...f.progress, out.stdout()].join("\n");
  assert.equal(text.match(/\[1\/8\]/g)?.length, 1, text);
  assert.match(text, /nothing has been changed/);
  assert.match(text, /^ {4}would write \/home\/ada\/.config\/systemd\/user\/halton-meter.service$/m);
  assert.doesNotMatch(text, /^\s+(created|changed|write) /m, text);
  assert.doesNotMatch(text, /\b(started|restarted)\b/, text);
});

Deno.test("init --os for another OS renders that OS's plan as a dry run, whatever --dry-run says", async () => {
  await using home = await tempHome();
  const out = captureIo(home.paths, { env: home.env });
  const other = Deno.build.os === "windows" ? "linux" : "windows";
  assert.equal(await command.run(out.io, inv("--os", other, "--json")), 0);
  const plan = JSON.parse(out.stdout()) as InitResult;
  assert.equal(plan.os, other);
  assert.equal(plan.dryRun, true);
  assert.ok(plan.steps.flatMap((s) => s.files).some((x) => x.content !== undefined));
  assert.deepEqual([...Deno.readDirSync(home.dir)], [], "nothing written in the home");
});

Deno.test("init rejects --apps with --full and an unknown --os as usage errors", async () => {
  await using f = await fixture("linux");
  const { m } = f.machine();
  const out = captureIo(f.paths);
  await assert.rejects(() => execute(out.io, inv("--apps", "--full"), m), UsageError);
  await assert.rejects(async () => await command.run(out.io, inv("--os", "beos")), UsageError);
});

Deno.test("init moves a corrupt system_state.json aside, says so, and starts a new record", async () => {
  await using f = await fixture("linux");
  f.fs.write(f.paths.systemState, "{ not json");
  const { m } = f.machine();
  const out = captureIo(f.paths);
  assert.equal(await execute(out.io, inv("--non-interactive"), m), 0);
  const aside = f.fs.list(f.paths.home).filter((n) => n.startsWith("system_state.json.corrupt-"));
  assert.equal(aside.length, 1);
  assert.equal(f.fs.readText(`${f.paths.home}/${aside[0]}`), "{ not json");
  assert.ok(f.progress.some((l) => l.includes("could not be read") && l.includes(aside[0])));
  assert.equal((JSON.parse(f.fs.readText(f.paths.systemState)!) as SystemState).version, 1);
});

Deno.test("init rewrites a hand-edited unit file, says so, and replaces only the daemon, by the other slot's", async () => {
  await using f = await fixture("linux");
  await execute(captureIo(f.paths).io, inv("--non-interactive"), f.machine().m);
  f.board.edge = f.board.daemon = true;
  const good = f.fs.readText(UNIT)!;
  f.fs.write(UNIT, good.replace("Restart=on-failure", "Restart=no"));
  f.fs.write(EDGE_UNIT, f.fs.readText(EDGE_UNIT)! + "# my note\n");
  const { m, runner } = f.machine();
  f.progress.length = 0;
  assert.equal(await execute(captureIo(f.paths).io, inv("--non-interactive"), m), 0);
  assert.equal(f.fs.readText(UNIT), good);
  assert.ok(f.progress.some((l) => l.includes(`${UNIT} was edited by hand`)));
  const lines = runner.lines();
  // The running daemon is not restarted in place: slot b's starts beside it and takes over while it drains.
  assert.ok(lines.includes("systemctl --user start halton-meter-b.service"), lines.join("\n"));
  assert.ok(lines.includes("systemctl --user disable halton-meter.service"));
  assert.ok(!lines.includes("systemctl --user restart halton-meter.service"));
  assert.equal(f.fs.readText(`${f.paths.run}/daemon.slot`), "b\n");
  assert.ok(
    !lines.some((l) => l.includes("restart") && l.includes("edge")),
    "the running edge is not restarted",
  );
});

Deno.test("init keeps a pinned port's error plain, and moves past a taken default port", async () => {
  await using f = await fixture("linux");
  f.fs.write(f.paths.config, "[edge]\nport = 9100\n");
  const { m } = f.machine();
  const busy = { ...m, isPortFree: (p: number) => p !== 9100 && p !== 8090 };
  await assert.rejects(
    () => execute(captureIo(f.paths).io, inv("--non-interactive"), busy),
    (e: MeterError) =>
      /port 9100 \(edge.port in config.toml\) is in use/.test(e.message) && e.hint !== undefined,
  );
  f.fs.remove(f.paths.config);
  assert.equal(await execute(captureIo(f.paths).io, inv("--non-interactive"), busy), 0);
  assert.deepEqual(JSON.parse(f.fs.readText(f.paths.effectivePorts)!), {
    edge: 8081,
    intercept: 8091,
    api: 8765,
  });
});

Deno.test("init without certutil reports NSS trust as skipped with how to install it, and succeeds", async () => {
  await using f = await fixture("linux");
  const { m } = f.machine({ script: [{ when: "certutil", code: NOT_FOUND, stderr: "certutil: not found" }] });
  const out = captureIo(f.paths);
  assert.equal(await execute(out.io, inv("--non-interactive", "--json"), m), 0);
  const trust = (JSON.parse(out.stdout()) as InitResult).steps.find((s) => s.name === "trust")!;
  assert.equal(trust.status, "warned");
  assert.ok(
    trust.notes.some((n) => n.includes("'certutil' is not installed") && n.includes("libnss3-tools")),
  );
});

Deno.test("init run twice without certutil says the second time that nothing changed", async () => {
  await using f = await fixture("linux");
  const script = [{ when: "certutil", code: NOT_FOUND, stderr: "certutil: not found" }];
  assert.equal(await execute(captureIo(f.paths).io, inv("--non-interactive"), f.machine({ script }).m), 0);
  f.board.edge = f.board.daemon = true;
  const again = captureIo(f.paths);
  assert.equal(await execute(again.io, inv("--non-interactive"), f.machine({ script }).m), 0);
  assert.match(again.stdout(), /^Done: nothing changed; nothing restarted\.$/m);
  assert.ok(f.progress.some((l) => l.includes("'certutil' is not installed")), "the warning is still shown");
});

Deno.test("init on macOS without the security tool skips keychain trust with a note and succeeds", async () => {
  await using f = await fixture("darwin");
  const { m } = f.machine({ script: [{ when: "security", code: NOT_FOUND }] });
  const out = captureIo(f.paths);
  assert.equal(await execute(out.io, inv("--non-interactive", "--json"), m), 0);
  const trust = (JSON.parse(out.stdout()) as InitResult).steps.find((s) => s.name === "trust")!;
  assert.ok(trust.notes.some((n) => n.includes("'security' is not installed")));
});

Deno.test("init adds the Linux system store only with --system-trust or a yes, never non-interactively", async () => {
  const cases: [string[], boolean | undefined, boolean][] = [
    [["--non-interactive"], true, false],
    [["--non-interactive", "--system-trust"], undefined, true],
    [[], true, true],
    [[], false, false],
  ];
  for (const [args, answer, expected] of cases) {
    await using f = await fixture("linux");
    const { m, runner } = f.machine();
    const asked: string[] = [];
    const withAsk = { ...m, ask: (q: string) => (asked.push(q), Promise.resolve(answer)) };
    await execute(captureIo(f.paths).io, inv(...args), withAsk);
    const system = runner.lines().some((l) => l.startsWith("sudo install -m 0644"));
    assert.equal(system, expected, `${args.join(" ")} answer ${answer}`);
    if (args.includes("--non-interactive")) assert.deepEqual(asked, []);
  }
});

Deno.test("a failed self-test restarts the daemon once, exits 4, and with --clean rolls everything back", async () => {
  await using f = await fixture("linux");
  f.fs.write("/home/ada/.bashrc", "alias ll='ls -l'\n");
  f.board.selfTestOk = false;
  const { m, runner } = f.machine();
  const out = captureIo(f.paths);
  assert.equal(
    await execute(out.io, inv("--non-interactive", "--apps", "--clean"), m),
    ExitCode.SelfTestFailed,
  );
  assert.equal(f.board.selfTests, 2);
  assert.ok(runner.lines().includes("systemctl --user restart halton-meter.service"));
  assert.match(out.stdout(), /Self-test FAILED.*rolled back/);
  assert.equal(f.fs.readText("/home/ada/.bashrc"), "alias ll='ls -l'\n");
  assert.equal(f.fs.exists(UNIT), false);
  assert.equal(f.fs.exists(f.paths.systemState), false);
});

Deno.test("without a systemd user manager init writes no units and starts, then upgrades, the supervisor", async () => {
  await using f = await fixture("linux");
  const script = [{ when: "systemctl --user show-environment", code: 1, stderr: "Failed to connect to bus" }];
  const out = captureIo(f.paths);
  assert.equal(await execute(out.io, inv("--non-interactive"), f.machine({ script }).m), 0);
  assert.ok(f.progress.some((l) => l.includes("No service manager answers here")));
  assert.equal(f.fs.exists(UNIT), false);
  assert.deepEqual(f.supervisor.asked, ["start"]);
  f.board.edge = f.board.daemon = true;
  await execute(captureIo(f.paths).io, inv("--non-interactive"), f.machine({ script }).m);
  assert.deepEqual(f.supervisor.asked, ["start"], "a second init leaves the supervisor alone");
  await execute(
    captureIo(f.paths).io,
    inv("--non-interactive"),
    f.machine({ script, command: ["/opt/b/halton-meter"] }).m,
  );
  // The new supervisor adopts the old daemon, then replaces it with the new binary's (overlapping).
  assert.deepEqual(f.supervisor.asked, ["start", "handOver", "start", "restartDaemon"]);
  assert.deepEqual(f.supervisor.info?.command, ["/opt/b/halton-meter"]);
});

Deno.test("init leaves a certifi bundle that is really the system's bundle alone, says so, and doctor agrees", async () => {
  await using f = await fixture("linux");
  // Debian's python3-certifi: certifi's cacert.pem is a link to the system bundle.
  const certifi = "/usr/lib/python3/dist-packages/certifi/cacert.pem";
  const system = "/etc/ssl/certs/ca-certificates.crt";
  const systemText = f.fs.readText(system)!;
  f.fs.remove(certifi);
  Deno.symlinkSync("../../../../../etc/ssl/certs/ca-certificates.crt", f.fs.local(certifi));
  for (const flags of [["--dry-run"], []]) {
    const { m } = f.machine();
    const out = captureIo(f.paths);
    assert.equal(await execute(out.io, inv("--non-interactive", "--json", ...flags), m), 0);
    const result = JSON.parse(out.stdout()) as InitResult;
    const step = result.steps.find((s) => s.name === "certifi")!;
    assert.ok(!step.files.some((x) => x.path === certifi || x.path === system), JSON.stringify(step));
    assert.ok(
      step.notes.some((n) => n.includes(`left alone: ${certifi} (it is ${system}) is a system-wide bundle`)),
      JSON.stringify(step.notes),
    );
    assert.equal(f.fs.readText(system), systemText, "the system bundle is byte for byte unchanged");
  }
  const state = JSON.parse(f.fs.readText(f.paths.systemState)!) as SystemState;
  assert.deepEqual(state.certifi, []);
  assert.ok(!state.trust?.stores.includes("system"), "no system trust without --system-trust");
  const { m } = f.machine();
  const checks = await checkCertifi(m, await gatherFacts(m));
  assert.deepEqual(checks, [{
    layer: "certifi",
    status: "ok",
    detail:
      "0 bundle(s) hold the CA; 1 system-wide bundle(s) left alone ('halton-meter run' sets the CA variables)",
  }]);
});

Deno.test("init's last line after a binary swap says the services run this binary now, upgrade or rollback alike", () => {
  const result: InitResult = {
    os: "linux",
    mode: "env",
    dryRun: false,
    serviceManager: "systemd",
    command: ["/opt/halton-meter/0.1.0/halton-meter"],
    ports: { edge: 8081, intercept: 8090, api: 8765 },
    steps: [],
    changed: true,
    started: [],
    restarted: ["daemon"],
    upgradedFrom: ["/opt/halton-meter/0.1.1/halton-meter"],
  };
  assert.equal(
    renderOutcome(result),
    "Done: restarted daemon; the services now run this binary (was /opt/halton-meter/0.1.1/halton-meter). " +
      "Mode env; edge on 127.0.0.1:8081.\n",
  );
});
