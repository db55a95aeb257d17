import assert from "node:assert/strict";
import { join } from "node:path";
import { currentOs } from "../../core/paths.ts";
import { platformFor } from "../../platform/mod.ts";
import { meterCommand } from "../../testkit/processes.ts";

const posix = { ignore: Deno.build.os === "windows" };
const FAKE_CA = "-----BEGIN CERTIFICATE-----\nTUVURVI=\n-----END CERTIFICATE-----\n";

/** A temp home with a CA certificate and, when given, `effective-ports.json` naming the edge port. */
async function tempHome(edgePort?: number): Promise<string> {
  const home = await Deno.realPath(await Deno.makeTempDir({ prefix: "run-test-" }));
  await Deno.mkdir(join(home, ".mitmproxy"));
  await Deno.writeTextFile(join(home, ".mitmproxy", "mitmproxy-ca-cert.pem"), FAKE_CA);
  if (edgePort) {
    await Deno.writeTextFile(
      join(home, "effective-ports.json"),
      JSON.stringify({ edge: edgePort, intercept: 1, api: 2 }),
    );
  }
  return home;
}

function meter(home: string, args: string[]): Deno.Command {
  return meterCommand(home, args, { stdout: "piped", stderr: "piped" });
}

async function runMeter(home: string, args: string[]) {
  const out = await meter(home, args).output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

/** A stand-in edge: accepts connections and closes them. */
function fakeEdge() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const served = (async () => {
    try {
      for await (const conn of listener) conn.close();
    } catch { /* closed */ }
  })();
  return {
    port: listener.addr.port,
    async close() {
      listener.close();
      await served;
    },
  };
}

const roots = platformFor(currentOs()).systemRoots();
const hasSystemBundle = roots.kind === "file" && roots.candidates.some((f) => {
  try {
    return Deno.statSync(f).isFile;
  } catch {
    return false;
  }
});

Deno.test(
  "run --project gives the command the proxy with the project, the CA files and HALTON_PROJECT",
  posix,
  async () => {
    const edge = fakeEdge();
    const home = await tempHome(edge.port);
    try {
      const r = await runMeter(home, [
        "run",
        "--project",
        "Acme",
        "--",
        "sh",
        "-c",
        'echo "$HTTPS_PROXY|$http_proxy|$NO_PROXY|$HALTON_PROJECT|$NODE_EXTRA_CA_CERTS|$DENO_CERT|$SSL_CERT_FILE|$REQUESTS_CA_BUNDLE"',
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, "");
      const cert = join(home, ".mitmproxy", "mitmproxy-ca-cert.pem");
      const bundle = hasSystemBundle ? join(home, "ca-bundle.pem") : "";
      const proxy = `http://acme:x@127.0.0.1:${edge.port}`;
      assert.equal(
        r.stdout,
        `${proxy}|${proxy}|localhost,127.0.0.1,::1|acme|${cert}|${cert}|${bundle}|${bundle}\n`,
      );
      if (hasSystemBundle) {
        const text = await Deno.readTextFile(bundle);
        assert.ok(text.trimEnd().endsWith(FAKE_CA.trimEnd()));
        assert.ok(text.split("BEGIN CERTIFICATE").length > 2, "system roots are kept");
      }
    } finally {
      await edge.close();
      await Deno.remove(home, { recursive: true });
    }
  },
);

Deno.test(
  "run without --project leaves the proxy user and HALTON_PROJECT out, and keeps the command's env",
  posix,
  async () => {
    const edge = fakeEdge();
    const home = await tempHome(edge.port);
    try {
      const r = await runMeter(home, [
        "run",
        "--",
        "sh",
        "-c",
        'echo "$HTTPS_PROXY|${HALTON_PROJECT-unset}|$HOME"',
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `http://127.0.0.1:${edge.port}|unset|${home}\n`);
    } finally {
      await edge.close();
      await Deno.remove(home, { recursive: true });
    }
  },
);

Deno.test("run warns, and still runs the command, when the edge is not listening", posix, async () => {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = probe.addr.port;
  probe.close();
  const home = await tempHome(port);
  try {
    const r = await runMeter(home, ["run", "--", "sh", "-c", "echo ran"]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, "ran\n");
    assert.match(r.stderr, new RegExp(`not listening on 127\\.0\\.0\\.1:${port}`));
    assert.match(r.stderr, /halton-meter up/);
    assert.match(r.stderr, /halton-meter start/);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test(
  "run takes the edge port from config.toml when there is no effective-ports.json",
  posix,
  async () => {
    const edge = fakeEdge();
    const home = await tempHome();
    try {
      await Deno.writeTextFile(join(home, "config.toml"), `[edge]\nport = ${edge.port}\n`);
      const r = await runMeter(home, ["run", "--", "sh", "-c", 'echo "$HTTPS_PROXY"']);
      assert.equal(r.stdout, `http://127.0.0.1:${edge.port}\n`);
    } finally {
      await edge.close();
      await Deno.remove(home, { recursive: true });
    }
  },
);

Deno.test(
  "run with a config.toml it cannot use still runs the command through the edge, and says what it ignored",
  posix,
  async () => {
    const edge = fakeEdge();
    const home = await tempHome(edge.port);
    try {
      await Deno.writeTextFile(join(home, "config.toml"), "[edge\nport = 1\n");
      const r = await runMeter(home, ["run", "--", "sh", "-c", 'echo "$HTTPS_PROXY"']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `http://127.0.0.1:${edge.port}\n`);
      assert.match(
        r.stderr,
        /^warning: .*config\.toml.*not valid TOML.*\(ignored: the edge runs on defaults in its place\)$/m,
      );
    } finally {
      await edge.close();
      await Deno.remove(home, { recursive: true });
    }
  },
);

Deno.test("run exits with the command's exit code", posix, async () => {
  const edge = fakeEdge();
  const home = await tempHome(edge.port);
  try {
    assert.equal((await runMeter(home, ["run", "--", "sh", "-c", "exit 7"])).code, 7);
    assert.equal((await runMeter(home, ["run", "--", "sh", "-c", "kill -TERM $$"])).code, 143);
  } finally {
    await edge.close();
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("run exits 127 with a clear message when the command does not exist", posix, async () => {
  const edge = fakeEdge();
  const home = await tempHome(edge.port);
  try {
    const r = await runMeter(home, ["run", "--", "halton-no-such-command", "x"]);
    assert.equal(r.code, 127);
    assert.match(r.stderr, /command not found: halton-no-such-command/);
    assert.doesNotMatch(r.stderr, /\bat .*\.ts:\d+/, "no stack trace");
  } finally {
    await edge.close();
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("run rejects a bad project name and a missing command with exit 2", posix, async () => {
  const home = await tempHome(1);
  try {
    const bad = await runMeter(home, ["run", "--project", "no way!", "--", "true"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /not a valid project name/);
    const none = await runMeter(home, ["run"]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no command given/);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("run --json-env prints the variables and runs nothing", posix, async () => {
  const home = await tempHome(18081);
  try {
    const r = await runMeter(home, ["run", "--project", "acme", "--json-env"]);
    assert.equal(r.code, 0, r.stderr);
    const vars = JSON.parse(r.stdout);
    assert.equal(vars.HTTPS_PROXY, "http://acme:x@127.0.0.1:18081");
    assert.equal(vars.HALTON_PROJECT, "acme");
    assert.equal(vars.NODE_EXTRA_CA_CERTS, join(home, ".mitmproxy", "mitmproxy-ca-cert.pem"));
    assert.equal((await runMeter(home, ["run", "--json-env", "--", "true"])).code, 2);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("run forwards SIGTERM to the command and exits with its code", posix, async () => {
  const edge = fakeEdge();
  const home = await tempHome(edge.port);
  // Bounded, so that a lost signal fails the test instead of hanging it.
  const script =
    'trap "echo got-term; exit 5" TERM; echo ready; i=0; while [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done';
  const child = meter(home, ["run", "--", "sh", "-c", script]).spawn();
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    while (!seen.includes("ready")) seen += (await reader.read()).value ?? "";
    child.kill("SIGTERM");
    for (let r = await reader.read(); !r.done; r = await reader.read()) seen += r.value;
    const status = await child.status;
    assert.equal(status.code, 5);
    assert.match(seen, /got-term/);
    await child.stderr.cancel();
  } finally {
    await edge.close();
    await Deno.remove(home, { recursive: true });
  }
});
