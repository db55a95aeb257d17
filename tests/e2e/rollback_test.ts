/**
 * Rolling back after an upgrade, end to end under the built-in supervisor: a database a newer version
 * migrated additively is used as it is and calls are metered; one marked as needing a newer version is
 * refused, and `status`, `doctor` and `init` all say so, naming the version needed.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { runCli } from "../helpers/cli.ts";
import type { StatusReport } from "../../setup/status.ts";
import { supervisedHome } from "../helpers/supervised_home.ts";
import { waitFor } from "../../testkit/processes.ts";
import { rowsSeen, startTraffic } from "../helpers/traffic.ts";

const HOST = "api.openai.com";

Deno.test({
  name:
    "rollback: an additive newer migration is used as it is and meters; an incompatible one is refused, " +
    "and status, doctor and init name the version needed",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const h = await supervisedHome("h11-rollback-", HOST);
    const { home, fake, env, edgePort: edge } = h;
    const status = async () => {
      const r = await runCli(["status", "--json"], env);
      return { code: r.code, report: JSON.parse(r.stdout) as StatusReport };
    };
    const meteredCall = async () => {
      const caCerts = [
        await Deno.readTextFile(join(home, ".mitmproxy", "mitmproxy-ca-cert.pem")),
        fake.caPem,
      ];
      const traffic = startTraffic({ edgePort: edge, caCerts, host: HOST }, { fresh: 1, thinkMs: 50 });
      await new Promise((r) => setTimeout(r, 500));
      return await traffic.stop();
    };
    try {
      const init = await runCli(["init", "--non-interactive"], env);
      assert.equal(init.code, 0, init.stderr);

      // A newer version added a nullable column: an additive migration this binary does not know.
      const raw = new DatabaseSync(join(home, "db.sqlite"));
      raw.exec("ALTER TABLE requests ADD COLUMN future_note TEXT");
      raw.exec("INSERT INTO _migrations VALUES (999, '0999_future_note.sql', '2030-01-01T00:00:00.000Z')");
      raw.close();
      const restarted = await runCli(["restart"], env);
      assert.equal(restarted.code, 0, restarted.stderr);
      const calls = await meteredCall();
      assert.ok(calls.length > 0 && calls.every((c) => c.ok));
      await waitFor("the rows", () => Promise.resolve(rowsSeen(home).length >= calls.length), 10_000);
      assert.equal((await status()).report.healthy, true);

      // A newer version made an incompatible change and said so; this binary's daemon starts again on it.
      assert.equal((await runCli(["stop"], env)).code, 0);
      const marked = new DatabaseSync(join(home, "db.sqlite"));
      marked.exec(
        "INSERT INTO _requires VALUES ('99.0.0', 'the cost columns moved', '2030-01-01T00:00:00.000Z')",
      );
      marked.close();
      await runCli(["start"], env);
      await waitFor("the refusal to reach status", async () => {
        const s = await status();
        return s.code === 3 &&
          s.report.components.some((c) => c.name === "daemon" && /99\.0\.0/.test(c.detail));
      }, 30_000);
      const s = await status();
      assert.match(s.report.next ?? "", /Install halton-meter 99\.0\.0 or newer/);
      // Traffic still flows, unmetered: the edge never breaks a request.
      assert.ok((await meteredCall()).every((c) => c.ok));

      // The supervisor keeps the daemon's stderr where the user looks.
      const stderrLog = await Deno.readTextFile(join(home, "logs", "daemon.stderr.log"));
      assert.match(stderrLog, /needs version 99\.0\.0 or newer/);

      const doctor = await runCli(["doctor", "--json"], env);
      assert.notEqual(doctor.code, 0);
      assert.match(doctor.stdout, /needs version 99\.0\.0 or newer/);

      const again = await runCli(["init", "--non-interactive"], env);
      assert.equal(again.code, 4, again.stderr);
      assert.match(
        again.stdout + again.stderr,
        /Self-test FAILED: the daemon cannot start: .*needs version 99\.0\.0/,
      );
    } finally {
      await h.close();
    }
  },
});
