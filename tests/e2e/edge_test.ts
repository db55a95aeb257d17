import assert from "node:assert/strict";
import { join } from "node:path";
import { type FakeDaemon, startFakeDaemon } from "../helpers/fake_daemon.ts";
import { COMPLETION, type FakeProvider, startFakeProvider } from "../../testkit/fake_provider.ts";
import { type TempHome, tempHome } from "../helpers/home.ts";
import { pinPorts, spawnMeter, stop } from "../../testkit/processes.ts";
import { runCli } from "../helpers/cli.ts";
import {
  connectThrough,
  rawExchange,
  readAll,
  type RecordingOrigin,
  startRecordingOrigin,
  writeText,
} from "../edge/_fakes.ts";

/** A real `halton-meter edge` process. */
interface EdgeProcess {
  port: number;
  child: Deno.ChildProcess;
  /** Everything it wrote to stderr so far. */
  stderr(): string;
  /** Sends `signal` and waits for the exit code. */
  stop(signal: Deno.Signal): Promise<number>;
}

/** Starts `halton-meter edge` in `home` and waits for `edge.startup.ready`. */
async function spawnEdge(home: TempHome, port: number): Promise<EdgeProcess> {
  const child = spawnMeter(home.home, "edge", { env: home.env, stderr: "piped" });
  let text = "";
  const ready = Promise.withResolvers<void>();
  const reading = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      text += chunk;
      if (text.includes('"edge.startup.ready"')) ready.resolve();
    }
    ready.reject(new Error(`the edge exited before it was ready:\n${text}`));
  })();
  const timer = setTimeout(() => ready.reject(new Error(`the edge was not ready in 20 s:\n${text}`)), 20_000);
  try {
    await ready.promise;
  } catch (e) {
    await stop(child, "SIGKILL");
    await reading;
    throw e;
  } finally {
    clearTimeout(timer);
  }
  return {
    port,
    child,
    stderr: () => text,
    async stop(signal) {
      const { code } = await stop(child, signal);
      await reading;
      return code;
    },
  };
}

function curlAvailable(): boolean {
  try {
    new Deno.Command("curl", { args: ["--version"], stdout: "null", stderr: "null" }).outputSync();
    return true;
  } catch {
    return false;
  }
}
const HAS_CURL = curlAvailable();

async function curl(args: string[]): Promise<{ code: number; body: string; stderr: string }> {
  const out = await new Deno.Command("curl", {
    args: ["-sS", "--max-time", "10", "--noproxy", "", ...args],
    env: { PATH: Deno.env.get("PATH") ?? "" },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, body: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

interface World {
  edge: EdgeProcess;
  provider: FakeProvider;
  origin: RecordingOrigin;
  ports: { intercept: number; api: number };
  daemon?: FakeDaemon;
  logs: string;
}

/** One request through the edge with Deno's fetch on a fresh connection (no pooling: every call CONNECTs). */
async function fetchVia(
  world: World,
  url: string,
  auth?: { username: string; password: string },
): Promise<{ status: number; body: string }> {
  const client = Deno.createHttpClient({
    proxy: { url: `http://127.0.0.1:${world.edge.port}`, basicAuth: auth },
    caCerts: [world.provider.caPem],
    poolMaxIdlePerHost: 0,
  });
  try {
    const res = await fetch(url, {
      client,
      method: url.includes("/v1/") ? "POST" : "GET",
      body: url.includes("/v1/") ? JSON.stringify({ model: "gpt-4o-mini", messages: [] }) : undefined,
      headers: { "content-type": "application/json" },
    });
    return { status: res.status, body: await res.text() };
  } finally {
    client.close();
  }
}

/**
 * One HTTPS request through the edge by hand: CONNECT, TLS with the fake provider's CA, HTTP/1.1 with
 * `Connection: close`. Unlike Deno's fetch, which looks the target name up in DNS even when it goes through a
 * proxy (a 5 s stall whenever this machine's resolver drops a query), it never touches DNS.
 */
async function tlsRequest(world: World, host: string): Promise<{ status: number; body: string }> {
  const { conn, head } = await connectThrough(world.edge.port, `${host}:443`);
  if (!head.startsWith("HTTP/1.1 200 ")) {
    conn.close();
    return { status: 0, body: head };
  }
  const tls = await Deno.startTls(conn, {
    hostname: host,
    caCerts: [world.provider.caPem],
    alpnProtocols: ["http/1.1"],
  });
  try {
    await writeText(
      tls,
      `POST /v1/chat/completions HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\n` +
        "Content-Length: 2\r\nConnection: close\r\n\r\n{}",
    );
    const answer = new TextDecoder().decode(await readAll(tls));
    const split = answer.indexOf("\r\n\r\n");
    return { status: Number(answer.slice(9, 12)), body: answer.slice(split + 4) };
  } finally {
    tls.close();
  }
}

function startDaemon(world: World): FakeDaemon {
  world.daemon = startFakeDaemon({
    forwardTo: { hostname: "127.0.0.1", port: world.provider.port },
    interceptPort: world.ports.intercept,
    apiPort: world.ports.api,
  });
  return world.daemon;
}

Deno.test("halton-meter edge, as a real process, fails open around the daemon", async (t) => {
  await using home = await tempHome();
  const provider = await startFakeProvider(home.dir);
  const origin = startRecordingOrigin();
  Deno.mkdirSync(home.home, { recursive: true });
  const ports = await pinPorts(home.home);
  Deno.writeTextFileSync(
    home.paths.config,
    [
      "[upstream.resolve]",
      `"api.openai.com" = "127.0.0.1:${provider.port}"`,
      `"unmetered.example" = "127.0.0.1:${provider.port}"`,
      "",
    ].join("\n"),
  );
  const world: World = {
    edge: await spawnEdge(home, ports.edge),
    provider,
    origin,
    ports,
    logs: join(home.paths.logs, "edge.jsonl"),
  };
  const daemon = startDaemon(world);
  const completion = JSON.stringify(COMPLETION);

  try {
    await t.step("an unmetered host is tunnelled straight through", async () => {
      const res = await fetchVia(world, "https://unmetered.example/v1/chat/completions");
      assert.deepEqual(res, { status: 200, body: completion });
      assert.equal(daemon.handovers.length, 0);
      assert.equal(daemon.healthChecks, 0);
    });

    await t.step("a metered host goes to the healthy daemon with the client's address", async () => {
      const res = await fetchVia(world, "https://api.openai.com/v1/chat/completions");
      assert.deepEqual(res, { status: 200, body: completion });
      assert.equal(daemon.handovers.length, 1);
      assert.equal(daemon.handovers[0].target, "api.openai.com:443");
      assert.match(daemon.handovers[0].client ?? "", /^127\.0\.0\.1:\d+$/);
      assert.equal(daemon.handovers[0].project, undefined);
    });

    await t.step("proxy credentials become x-halton-project (Deno fetch)", async () => {
      const res = await fetchVia(world, "https://api.openai.com/v1/chat/completions", {
        username: "acme-app",
        password: "",
      });
      assert.equal(res.status, 200);
      assert.equal(daemon.handovers.at(-1)?.project, "acme-app");
    });

    await t.step({
      name: "proxy credentials become x-halton-project (curl)",
      ignore: !HAS_CURL,
      fn: async () => {
        const res = await curl([
          "-x",
          `http://team-b:anything@127.0.0.1:${world.edge.port}`,
          "--cacert",
          provider.caFile,
          "-H",
          "content-type: application/json",
          "-d",
          "{}",
          "https://api.openai.com/v1/chat/completions",
        ]);
        assert.equal(res.code, 0, res.stderr);
        assert.equal(res.body, completion);
        assert.equal(daemon.handovers.at(-1)?.project, "team-b");
      },
    });

    await t.step("the daemon dying mid-run of concurrent requests costs no request", async () => {
      const before = daemon.handovers.length;
      const total = 48;
      let started = 0;
      let finished = 0;
      const failures: string[] = [];
      const worker = async () => {
        while (started < total) {
          started++;
          const res = await tlsRequest(world, "api.openai.com").catch((e) => ({
            status: 0,
            body: String(e),
          }));
          if (res.status !== 200 || res.body !== completion) failures.push(`${res.status} ${res.body}`);
          finished++;
          if (finished === 12) await daemon.stop();
        }
      };
      await Promise.all(Array.from({ length: 6 }, worker));
      assert.deepEqual(failures, []);
      const handedOver = daemon.handovers.length - before;
      assert.ok(handedOver >= 12 && handedOver < total, `${handedOver} of ${total} went to the daemon`);
    });

    await t.step("with the daemon down, a metered host is tunnelled (curl and fetch)", async () => {
      const count = daemon.handovers.length;
      const res = await fetchVia(world, "https://api.openai.com/v1/chat/completions");
      assert.deepEqual(res, { status: 200, body: completion });
      if (HAS_CURL) {
        const c = await curl([
          "-x",
          `http://127.0.0.1:${world.edge.port}`,
          "--cacert",
          provider.caFile,
          "https://api.openai.com/v1/chat/completions",
          "-d",
          "{}",
        ]);
        assert.equal(c.code, 0, c.stderr);
        assert.equal(c.body, completion);
      }
      assert.equal(daemon.handovers.length, count);
    });

    await t.step(
      "while the daemon stays down, a metered CONNECT is answered at once, not after a retry",
      async () => {
        for (let i = 0; i < 3; i++) {
          // Past the 200 ms an unhealthy answer is trusted: each CONNECT starts a new check.
          await new Promise((r) => setTimeout(r, 300));
          const conn = await Deno.connect({ hostname: "127.0.0.1", port: world.edge.port });
          const started = performance.now();
          await conn.write(
            new TextEncoder().encode(
              "CONNECT api.openai.com:443 HTTP/1.1\r\nHost: api.openai.com:443\r\n\r\n",
            ),
          );
          const buf = new Uint8Array(256);
          const n = await conn.read(buf);
          const took = performance.now() - started;
          conn.close();
          assert.match(new TextDecoder().decode(buf.subarray(0, n ?? 0)), /^HTTP\/1\.1 200 /);
          assert.ok(took < 500, `the 200 came after ${Math.round(took)} ms`);
        }
      },
    );

    await t.step("when the daemon comes back, handover resumes within a second", async () => {
      await daemon.close();
      const back = startDaemon(world);
      const since = performance.now();
      while (back.handovers.length === 0 && performance.now() - since < 3000) {
        const res = await tlsRequest(world, "api.openai.com");
        assert.equal(res.status, 200);
        await new Promise((r) => setTimeout(r, 20));
      }
      const took = performance.now() - since;
      assert.equal(back.handovers.length > 0, true, "handover never resumed");
      assert.ok(took < 1000, `handover resumed after ${Math.round(took)} ms`);
    });

    await t.step("a plain http:// request is forwarded in origin form", async () => {
      const url = `http://127.0.0.1:${origin.port}/hello?x=1`;
      const res = await fetchVia(world, url);
      assert.deepEqual(res, { status: 200, body: "plain ok /hello?x=1" });
      if (HAS_CURL) {
        const c = await curl(["-x", `http://127.0.0.1:${world.edge.port}`, url]);
        assert.equal(c.code, 0, c.stderr);
        assert.equal(c.body, "plain ok /hello?x=1");
      }
      for (const head of origin.heads) {
        assert.match(head, /^GET \/hello\?x=1 HTTP\/1\.1\r\n/);
        assert.doesNotMatch(head, /proxy-/i);
      }
    });

    await t.step("garbage gets 400 and the edge keeps serving", async () => {
      assert.match(
        await rawExchange(world.edge.port, "\x16\x03\x01\x00\xffnot http\r\n\r\n"),
        /^HTTP\/1\.1 400 /,
      );
      assert.match(
        await rawExchange(world.edge.port, `CONNECT x:1 HTTP/1.1\r\nX: ${"y".repeat(70_000)}\r\n\r\n`),
        /^HTTP\/1\.1 400 /,
      );
      const res = await fetchVia(world, "https://unmetered.example/v1/chat/completions");
      assert.equal(res.status, 200);
    });

    await t.step(
      "SIGTERM stops it with exit 0 and a final passthrough line, no host names logged",
      async () => {
        assert.equal(await world.edge.stop("SIGTERM"), 0);
        const log = Deno.readTextFileSync(world.logs);
        const events = log.trim().split("\n").map((l) => JSON.parse(l));
        const names = events.map((e) => e.event);
        assert.ok(names.includes("edge.daemon_unhealthy"));
        assert.ok(names.includes("edge.daemon_healthy"));
        const final = events.findLast((e) => e.event === "edge.passthrough");
        assert.equal(final?.final, true);
        assert.equal(names.at(-1), "edge.exit");
        assert.ok(!/openai|unmetered\.example/.test(log), "no host name in the edge's log");
      },
    );
  } finally {
    await world.edge.stop("SIGKILL");
    await world.daemon?.close();
    await origin.close();
    await provider.close();
  }
});

Deno.test("halton-meter edge starts on its last ports with a config it cannot use, and says what it ignored", async () => {
  await using home = await tempHome();
  const provider = await startFakeProvider(home.dir);
  Deno.mkdirSync(home.home, { recursive: true });
  const configs = [
    // A bad value beside a good one: the good one (resolve) is kept.
    [
      "[upstream]",
      'proxy = "socks5://proxy.corp:1080"',
      "[upstream.resolve]",
      `"unmetered.example" = "127.0.0.1:${provider.port}"`,
      "",
    ].join("\n"),
    // Not TOML at all: every default, the ports of effective-ports.json.
    "[upstream\nproxy = \n",
  ];
  try {
    for (const [i, config] of configs.entries()) {
      const ports = await pinPorts(home.home);
      Deno.writeTextFileSync(home.paths.config, config);
      const edge = await spawnEdge(home, ports.edge);
      try {
        const ignored = edge.stderr().split("\n").filter((l) => l.includes('"edge.config_ignored"'));
        assert.equal(ignored.length, 1, edge.stderr());
        assert.match(ignored[0], i === 0 ? /upstream\.proxy/ : /not valid TOML/);
        assert.match(ignored[0], /"level":"error"/);
        const target = i === 0 ? "unmetered.example:443" : `127.0.0.1:${provider.port}`;
        const { conn, head } = await connectThrough(ports.edge, target);
        conn.close();
        assert.match(head, /^HTTP\/1\.1 200 /, "the edge tunnels on its last port");
        const status = await runCli(["status", "--json"], home.env);
        const config =
          (JSON.parse(status.stdout) as { components: { name: string; ok: boolean; detail: string }[] })
            .components.find((c) => c.name === "config");
        assert.equal(config?.ok, false, status.stdout);
        assert.match(
          config?.detail ?? "",
          i === 0 ? /the edge ignores: .*upstream\.proxy/ : /not valid TOML/,
        );
      } finally {
        assert.equal(await edge.stop("SIGTERM"), 0);
      }
    }
  } finally {
    await provider.close();
  }
});
