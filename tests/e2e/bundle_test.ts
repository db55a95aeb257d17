/**
 * The program as one file: `main.ts` bundled with `deno bundle`, only that file copied to an empty folder, and
 * run there with an empty Deno cache and no config. Everything it needs at run time (migrations, rate card,
 * dashboard page, service templates, the read API's worker) must come through its module graph, or this fails.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { fakeWorld } from "../helpers/world.ts";
import { accepts, daemonHealthy, denoDir, stop, waitFor } from "../helpers/processes.ts";
import { V8_FLAGS } from "../../platform/mod.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** Bundles `main.ts` into `<dir>/halton-meter.js`, from the repository (which holds deno.json and the lock). */
async function bundle(dir: string): Promise<string> {
  const out = join(dir, "halton-meter.js");
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--platform", "deno", "--output", out, "main.ts"],
    cwd: ROOT,
    env: { DENO_DIR: denoDir(), NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(r.code, 0, `deno bundle failed:\n${new TextDecoder().decode(r.stderr)}`);
  return out;
}

/** `deno run` of the lone file, from its own folder, with a fresh Deno cache and only the meter's variables. */
function lone(file: string, denoCache: string, home: string, args: string[]): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-config", "--no-lock", V8_FLAGS, file, ...args],
    cwd: join(file, ".."),
    env: {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      DENO_DIR: denoCache,
      HALTON_METER_HOME: home,
      HOME: home,
      NO_COLOR: "1",
    },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

async function runLone(file: string, denoCache: string, home: string, args: string[]) {
  const r = await lone(file, denoCache, home, args).output();
  return {
    code: r.code,
    stdout: new TextDecoder().decode(r.stdout),
    stderr: new TextDecoder().decode(r.stderr),
  };
}

Deno.test("main.ts bundled into one file runs alone: up, a metered call, report, read API and page, init plans", async () => {
  const world = await fakeWorld({ prefix: "hm-bundle-", hosts: ["api.anthropic.com"] });
  const { dir, ports } = world;
  const work = await Deno.makeTempDir({ prefix: "hm-bundle-build-" });
  const alone = join(work, "empty");
  const denoCache = join(work, "deno-cache");
  await Deno.mkdir(alone);
  await Deno.mkdir(denoCache);
  let up: Deno.ChildProcess | undefined;
  let log = "";
  let reading: Promise<void> | undefined;
  let client: Deno.HttpClient | undefined;
  try {
    const file = join(alone, "halton-meter.js");
    await Deno.copyFile(await bundle(work), file);
    assert.deepEqual([...Deno.readDirSync(alone)].map((e) => e.name), ["halton-meter.js"]);

    const version = await runLone(file, denoCache, dir, ["--version"]);
    assert.equal(version.code, 0, version.stderr);
    assert.match(version.stdout, /^halton-meter \d+\.\d+\.\d+/);

    up = lone(file, denoCache, dir, ["up"]).spawn();
    const child = up;
    reading = (async () => {
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) log += chunk;
    })();
    child.stdout.cancel();
    await waitFor("the bundled daemon's api", () => daemonHealthy(ports.api), 30_000).catch((e) => {
      throw new Error(`${e.message}\n${log}`);
    });
    await waitFor("the bundled edge", () => accepts(ports.edge), 30_000);

    client = Deno.createHttpClient({
      proxy: { url: `http://bundled:@127.0.0.1:${ports.edge}` },
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

    // The read API runs in a worker thread started from the lone file itself.
    const api = `http://127.0.0.1:${ports.api}`;
    let projects: { slug: string }[] = [];
    await waitFor("the call in the read API", async () => {
      const res = await fetch(`${api}/v1/projects`);
      assert.equal(res.status, 200, log);
      projects = await res.json();
      return projects.some((p) => p.slug === "bundled");
    });
    const status = await fetch(`${api}/v1/daemon/status`);
    assert.equal(status.status, 200);
    assert.equal((await status.json()).request_count_last_hour, 1);
    const page = await fetch(`${api}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type") ?? "", /text\/html/);
    assert.match(await page.text(), /<title>Halton Meter<\/title>/);

    const report = await runLone(file, denoCache, dir, ["report", "--by", "project", "--json"]);
    assert.equal(report.code, 0, report.stderr);
    const doc = JSON.parse(report.stdout);
    assert.deepEqual(doc.groups.map((g: { key: string; requests: number }) => [g.key, g.requests]), [[
      "bundled",
      1,
    ]]);
    assert.equal(doc.total.output_tokens, 311);

    for (const os of ["linux", "darwin", "windows"]) {
      const plan = await runLone(file, denoCache, dir, ["init", "--dry-run", "--json", "--os", os]);
      assert.equal(plan.code, 0, `init --dry-run --os ${os}: ${plan.stderr}`);
      const json = JSON.parse(plan.stdout);
      assert.equal(json.os, os);
      assert.equal(json.command.at(-1), file, "the services would run the lone file");
      const serviceFiles = json.steps.flatMap((s: { files: { content?: string }[] }) => s.files)
        .filter((f: { content?: string }) => f.content?.includes("halton-meter.js"));
      // Linux without a user systemd (a container, this CI) plans the built-in supervisor: no service files.
      if (json.serviceManager !== "supervisor") {
        assert.ok(serviceFiles.length >= 2, `${os}: edge and daemon service files name the lone file`);
      }
    }

    up.kill("SIGTERM");
    assert.equal((await up.status).code, 0, `up exits 0 on SIGTERM\n${log}`);
    await reading;
    assert.doesNotMatch(log, /NotFound|Uncaught|error: /, log);
  } finally {
    client?.close();
    if (up) await stop(up, "SIGKILL");
    await reading;
    await world.close();
    await Deno.remove(work, { recursive: true });
  }
});
