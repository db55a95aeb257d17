/**
 * The smoke test of a whole program, whatever form it takes (a bundled file run by `deno run`, a compiled
 * binary): `--version`, `up` in a temp home wired to the local fake provider, one metered call through the
 * edge, the read API (in its worker thread) and the page, `report --json`, and `init --dry-run --json --os`
 * for each OS, whose services must run this same program.
 *
 * @module
 */
import assert from "node:assert/strict";
import { fakeWorld } from "../../testkit/world.ts";
import { accepts, daemonHealthy, stop, waitFor } from "../../testkit/processes.ts";

/** How to run the program under test. */
export interface SmokeTarget {
  /** The argv before the command, e.g. `[deno, "run", "-A", …, file]` or `[binary]`. */
  argv: string[];
  /** The folder to run it from. */
  cwd: string;
  /** Added to the environment (which is otherwise only PATH, HOME, HALTON_METER_HOME, NO_COLOR). */
  env?: Record<string, string>;
  /** What the last word of the services' command must be: the file or binary itself. */
  self: string;
  /** The channel `--version` must name. */
  channel: string;
}

function command(t: SmokeTarget, home: string, args: string[]): Deno.Command {
  const env: Record<string, string> = {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HALTON_METER_HOME: home,
    HOME: home,
    NO_COLOR: "1",
    ...t.env,
  };
  // Windows programs need these to find their own system folders.
  for (const name of ["SystemRoot", "USERPROFILE", "LOCALAPPDATA", "TEMP", "TMP"]) {
    const value = Deno.env.get(name);
    if (value && Deno.build.os === "windows") env[name] = value;
  }
  return new Deno.Command(t.argv[0], {
    args: [...t.argv.slice(1), ...args],
    cwd: t.cwd,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

async function run(t: SmokeTarget, home: string, args: string[]) {
  const r = await command(t, home, args).output();
  const d = new TextDecoder();
  return { code: r.code, stdout: d.decode(r.stdout), stderr: d.decode(r.stderr) };
}

/** Runs the smoke test against `t`; throws an assertion error naming what failed. */
export async function smokeTest(t: SmokeTarget): Promise<void> {
  const world = await fakeWorld({ prefix: "hm-smoke-", hosts: ["api.anthropic.com"] });
  const { dir, ports } = world;
  let up: Deno.ChildProcess | undefined;
  let log = "";
  let reading: Promise<void> | undefined;
  let client: Deno.HttpClient | undefined;
  try {
    const version = await run(t, dir, ["--version"]);
    assert.equal(version.code, 0, version.stderr);
    assert.match(
      version.stdout,
      new RegExp(`^halton-meter \\d+\\.\\d+\\.\\d+ \\(.+\\), from ${t.channel}\\n$`),
    );

    up = command(t, dir, ["up"]).spawn();
    const child = up;
    reading = (async () => {
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) log += chunk;
    })();
    await child.stdout.cancel();
    await waitFor("the daemon's api", () => daemonHealthy(ports.api), 30_000).catch((e) => {
      throw new Error(`${e.message}\n${log}`);
    });
    await waitFor("the edge", () => accepts(ports.edge), 30_000);
    // The checkpoint worker starts from the program's entry module, whatever form the program has.
    await waitFor(
      "checkpoints off the daemon's thread",
      () => Promise.resolve(log.includes('"store.checkpoints_off_thread"')),
      30_000,
    )
      .catch((e) => {
        throw new Error(`${e.message}\n${log}`);
      });

    client = Deno.createHttpClient({
      proxy: { url: `http://smoke:@127.0.0.1:${ports.edge}` },
      caCerts: [await Deno.readTextFile(world.caFile)],
    });
    const call = await fetch("https://api.anthropic.com/v1/messages?fixture=anthropic_message.body", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "claude-sonnet-4-5", max_tokens: 256, messages: [] }),
      client,
    });
    assert.equal(call.status, 200);
    assert.equal((await call.json()).usage.output_tokens, 311);
    client.close();
    client = undefined;

    const api = `http://127.0.0.1:${ports.api}`;
    await waitFor("the call in the read API", async () => {
      const res = await fetch(`${api}/v1/projects`);
      assert.equal(res.status, 200, log);
      return ((await res.json()) as { slug: string }[]).some((p) => p.slug === "smoke");
    });
    const status = await fetch(`${api}/v1/daemon/status`);
    assert.equal(status.status, 200);
    assert.equal((await status.json()).request_count_last_hour, 1);
    const page = await fetch(`${api}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type") ?? "", /text\/html/);
    assert.match(await page.text(), /<title>Halton Meter<\/title>/);

    const report = await run(t, dir, ["report", "--by", "project", "--json"]);
    assert.equal(report.code, 0, report.stderr);
    const doc = JSON.parse(report.stdout);
    assert.deepEqual(doc.groups.map((g: { key: string; requests: number }) => [g.key, g.requests]), [[
      "smoke",
      1,
    ]]);
    assert.equal(doc.total.output_tokens, 311);

    for (const os of ["linux", "darwin", "windows"]) {
      const plan = await run(t, dir, ["init", "--dry-run", "--json", "--os", os]);
      assert.equal(plan.code, 0, `init --dry-run --os ${os}: ${plan.stderr}`);
      const json = JSON.parse(plan.stdout);
      assert.equal(json.os, os);
      assert.equal(json.command.at(-1), t.self, "the services would run this same program");
      // Linux without a user systemd (a container, a CI box) plans the built-in supervisor: no service files.
      if (json.serviceManager !== "supervisor") {
        const named = json.steps.flatMap((s: { files: { content?: string }[] }) => s.files)
          .filter((f: { content?: string }) => f.content?.includes(t.self.split(/[\\/]/).at(-1)!));
        assert.ok(named.length >= 2, `${os}: edge and daemon service files name the program`);
      }
    }

    if (Deno.build.os !== "windows") {
      up.kill("SIGTERM");
      assert.equal((await up.status).code, 0, `up exits 0 on SIGTERM\n${log}`);
    }
  } finally {
    client?.close();
    if (up) await stop(up, "SIGKILL");
    await reading;
    await world.close();
  }
  assert.doesNotMatch(log, /Uncaught|NotFound/, log);
}
