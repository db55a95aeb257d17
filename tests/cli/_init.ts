/**
 * The set-ups command tests start from: `init --non-interactive` on a fixture machine, or `up` running in the
 * foreground on one where `init` never ran.
 *
 * @module
 */
import { parseInvocation } from "../../cli/command.ts";
import { command as initCommand, execute as init } from "../../cli/init.ts";
import { captureIo } from "../helpers/io.ts";
import type { Fixture } from "../setup/_fixture.ts";
import { loadOrCreateCa } from "../../tls/mod.ts";
import { edgeStateFile } from "../../core/edge_state.ts";

/** The runner script of a machine where no systemd answers: `init` sets up the built-in supervisor. */
export const NO_SYSTEMD = [{ when: /show-environment/, code: 1, stderr: "Failed to connect to bus" }];

/**
 * Runs `init --non-interactive` on `f`'s machine, its output discarded; `supervised`: on a machine with no
 * systemd, so under the built-in supervisor.
 */
export async function initMachine(f: Fixture, supervised = false): Promise<void> {
  await init(
    captureIo(f.paths).io,
    parseInvocation("init", initCommand, ["--non-interactive"]),
    f.machine(supervised ? { script: NO_SYSTEMD } : {}).m,
  );
}

/**
 * What `halton-meter up` leaves on `f`'s machine before any `init`: the CA it made, its edge's
 * `run/edge.json` (this process standing in for it), and both ports answering. When `ownEdge` is false
 * the ports answer but no edge of this home says so: another home's `up` on the same ports. Returns the
 * runner script of a machine with no systemd, where `up` is what people run.
 */
export async function upInForeground(f: Fixture, ownEdge = true) {
  const dir = await Deno.makeTempDir();
  try {
    const { ca } = await loadOrCreateCa({
      caDir: dir,
      caKeyAndCert: `${dir}/ca.pem`,
      caCert: `${dir}/ca-cert.pem`,
    });
    f.fs.write(f.paths.caCert, ca.certPem);
    f.fs.write(f.paths.caKeyAndCert, ca.keyPem + ca.certPem);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  if (ownEdge) {
    f.fs.write(
      edgeStateFile(f.paths.run),
      JSON.stringify({
        pid: Deno.pid,
        version: "0.1.0",
        port: 8081,
        started_at: new Date().toISOString(),
        unmetered: { tunnels: 0, bytes: 0, open: 0, reclaimed: 0 },
        up: true,
      }),
    );
  }
  f.board.edge = f.board.daemon = true;
  return NO_SYSTEMD;
}
