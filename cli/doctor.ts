/**
 * `halton-meter doctor [--json] [--fix]`: checks every layer and gives a verdict, HEALTHY / INCONSISTENT /
 * BROKEN, with one next step per failure; `--fix` runs the safe repairs (init's steps, which change only what
 * differs) and checks again.
 *
 * @module
 */
import { boolFlag, type CommandSpec, type Invocation, type Io } from "./command.ts";
import { type Channel, currentChannel } from "../core/channel.ts";
import { ExitCode } from "../core/errors.ts";
import { currentOs } from "../core/paths.ts";
import { type Check, runChecks, type Verdict, verdictOf } from "../setup/doctor.ts";
import { runInit } from "../setup/init.ts";
import { gatherFacts } from "../setup/inspect.ts";
import { type Machine, realMachine } from "../setup/machine.ts";

const MARK: Record<Check["status"], string> = {
  ok: "ok  ",
  skipped: "--  ",
  inconsistent: "WARN",
  broken: "FAIL",
};

/** The human view of the checks. */
export function renderDoctor(checks: readonly Check[], verdict: Verdict): string {
  const lines = checks.map((c) =>
    `${MARK[c.status]}  ${c.layer.padEnd(9)} ${c.detail}${c.next ? `\n      next: ${c.next}` : ""}`
  );
  return [...lines, "", `Verdict: ${verdict}`, ""].join("\n");
}

/** Where the binary came from and how to upgrade or roll it back, for support. */
export function renderChannel(c: Channel): string {
  return `Channel: ${c.name}\n  upgrade:  ${c.upgrade}\n  rollback: ${c.rollback}\n`;
}

/** `doctor` on `m`, for a binary from `channel`. */
export async function execute(
  io: Io,
  inv: Invocation,
  m: Machine,
  channel: Channel = currentChannel(),
): Promise<number> {
  let checks = await runChecks(m, await gatherFacts(m));
  let fixed = false;
  if (boolFlag(inv, "fix") && verdictOf(checks) !== "HEALTHY") {
    io.stderr("Repairing with init's steps (only what differs is changed):\n");
    await runInit(m, { nonInteractive: true });
    checks = await runChecks(m, await gatherFacts(m));
    fixed = true;
  }
  const verdict = verdictOf(checks);
  io.stdout(
    boolFlag(inv, "json")
      ? JSON.stringify({ verdict, fixed, checks, channel }, null, 2) + "\n"
      : renderDoctor(checks, verdict) + renderChannel(channel),
  );
  return verdict === "HEALTHY" ? ExitCode.Ok : ExitCode.Unhealthy;
}

/** The `doctor` command. */
export const command: CommandSpec = {
  usage: "doctor [--json] [--fix]",
  description: [
    "Checks every layer: config.toml (values the edge had to ignore), the CA files and their validity, the",
    "CA's trust, the certifi bundles (system-wide ones are left alone by design), the proxy and CA",
    "variables of this shell (a proxy variable pointing at a dead port breaks every request), the ports and a",
    "self-test through the edge, the service definitions (a hand-edited one is INCONSISTENT: init rewrites it),",
    "and the database (PRAGMA quick_check on a read-only connection).",
    "",
    "Verdict: HEALTHY, INCONSISTENT (works, but not as init left it) or BROKEN (something does not work), with",
    "one next step per failure. --fix runs init's steps, which repair what differs and leave the rest, then",
    "checks again. Exit code 3 when the verdict is not HEALTHY. --json prints {verdict, fixed, checks: [{layer,",
    "status, detail, next?}], channel: {name, upgrade, rollback, marker?}}: where this binary came from",
    "(install-script, fleet, homebrew, scoop, download, bundle, source) and how to upgrade or roll it back.",
  ].join("\n"),
  flags: [
    { name: "json", type: "boolean", description: "Print the checks and the verdict as JSON." },
    { name: "fix", type: "boolean", description: "Run the safe repairs (init's steps), then check again." },
  ],
  run: (io, inv) => execute(io, inv, realMachine(io.env, currentOs(), (l) => io.stderr(l + "\n"))),
};
