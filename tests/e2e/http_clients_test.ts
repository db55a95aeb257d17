/**
 * Plain HTTP clients through the meter with nothing set by hand but what `run` and `env` give them: curl, and
 * Python's requests and httpx (Debian's packages; `.ci/run` installs them), httpx with strict X.509
 * verification of the meter's certificates. Each streams a chat completion from the local fake provider and
 * must leave one row with every column exact.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { accepts, daemonHealthy, meterCommand, spawnMeter, stop, waitFor } from "../../testkit/processes.ts";
import { type FakeWorld, fakeWorld } from "../../testkit/world.ts";

type Row = Record<string, unknown>;

/** The first Python that can import `module`, or undefined. Debian's comes first: `.ci/run` fills it. */
function pythonWith(module: string): string | undefined {
  for (const python of ["/usr/bin/python3", "python3"]) {
    try {
      const r = new Deno.Command(python, { args: ["-c", `import ${module}`], stdout: "null", stderr: "null" })
        .outputSync();
      if (r.success) return python;
    } catch { /* not installed */ }
  }
  return undefined;
}

function have(program: string): boolean {
  try {
    return new Deno.Command(program, { args: ["--version"], stdout: "null", stderr: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
}

const PYTHON_REQUESTS = pythonWith("requests");
const PYTHON_HTTPX = pythonWith("httpx");
/** httpx speaks HTTP/2 with the `h2` library (Debian's `python3-h2`): a third HTTP/2 client, strict on the protocol. */
const PYTHON_HTTPX_H2 = pythonWith("httpx, h2");

const REQUEST = {
  model: "gpt-5.4",
  stream: true,
  stream_options: { include_usage: true },
  messages: [{ role: "user", content: "Say hi" }],
};
const CHAT_URL = "https://api.openai.com/v1/chat/completions";

/** Streams the chat completion with `requests` or `httpx` and prints how many events and whether [DONE] came. */
const PYTHON = `
import json, os, ssl, sys
lib, url, body = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
headers = {"authorization": "Bearer sk-test-key"}
if lib == "requests":
    import requests
    r = requests.post(url, json=body, headers=headers, stream=True, timeout=60)
    r.raise_for_status()
    text = "".join(line.decode() + "\\n" for line in r.iter_lines())
else:
    import httpx
    # Strict X.509 checks (as Python 3.13 makes the default) on the bundle the environment names.
    ctx = ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    with httpx.Client(verify=ctx, timeout=60, http2=lib == "httpx-h2") as client:
        with client.stream("POST", url, json=body, headers=headers) as r:
            r.raise_for_status()
            text = "".join(r.iter_text())
            print(r.http_version)
print("events", text.count("data: "), "done" if "[DONE]" in text else "cut")
`;

async function withUp(fn: (w: FakeWorld) => Promise<void>): Promise<void> {
  const w = await fakeWorld({ prefix: "hm-http-clients-", hosts: ["api.openai.com"] });
  const up = spawnMeter(w.dir, "up");
  try {
    await waitFor("a healthy daemon", () => daemonHealthy(w.ports.api), 30_000);
    await waitFor("the edge", () => accepts(w.ports.edge), 30_000);
    await fn(w);
  } finally {
    await stop(up);
    await w.close();
  }
}

async function output(command: Deno.Command) {
  const out = await command.output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

/** Runs {@linkcode PYTHON} with `python` and `lib` through `run --project project`. */
function runPython(w: FakeWorld, project: string, python: string, lib: string) {
  return output(meterCommand(
    w.dir,
    ["run", "--project", project, "--", python, "-c", PYTHON, lib, CHAT_URL, JSON.stringify(REQUEST)],
    { stdout: "piped", stderr: "piped" },
  ));
}

/** The chat rows, with their project's slug, once one is stored. */
async function chatRows(w: FakeWorld): Promise<Row[]> {
  const read = () => {
    const db = new DatabaseSync(join(w.dir, "db.sqlite"), { readOnly: true });
    try {
      return db.prepare(
        "SELECT r.*, p.slug AS project FROM requests r JOIN projects p ON p.id = r.project_id " +
          "WHERE r.path = '/v1/chat/completions'",
      ).all() as Row[];
    } finally {
      db.close();
    }
  };
  await waitFor("the chat row", () => Promise.resolve(read().length > 0), 10_000);
  return read();
}

/** One row, exactly what the streamed transcript and OpenAI's priority-tier rates for gpt-5.4 say. */
function assertChatRow(rows: Row[], project: string, layer: string): void {
  assert.equal(rows.length, 1, "one call, one row");
  const [row] = rows;
  assert.deepEqual(
    [row.model, row.input_tokens, row.cache_read_tokens, row.output_tokens, row.thinking_tokens],
    ["gpt-5.4", 180, 1024, 3, 0],
  );
  assert.deepEqual([row.cache_write_5m_tokens, row.cache_write_1h_tokens], [0, 0]);
  // Priority tier (the stream's service_tier): 180×5 + 1024×0.50 + 3×30 = 1,502 USD·tokens/M → 150 millicents.
  assert.equal(row.cost_usd_minor_units, 150);
  assert.deepEqual(
    [row.project, row.attribution_layer, row.status, row.tokens_complete, row.streamed],
    [project, layer, "success", 1, 1],
  );
}

Deno.test({
  name:
    "curl through `run --project`: the proxy URL and CA bundle variables alone get it metered, a colon kept",
  ignore: !have("curl"),
  async fn() {
    await withUp(async (w) => {
      const out = await output(meterCommand(w.dir, [
        "run",
        "--project",
        "ops:shell-scripts",
        "--",
        "curl",
        "-sS",
        "--fail",
        "-H",
        "authorization: Bearer sk-test-key",
        "-H",
        "content-type: application/json",
        "-d",
        JSON.stringify(REQUEST),
        CHAT_URL,
      ], { stdout: "piped", stderr: "piped" }));
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stdout, /data: \[DONE\]/);
      // curl decodes the URL's `ops%3Ashell-scripts` before it sends the credentials.
      assertChatRow(await chatRows(w), "ops:shell-scripts", "explicit");
    });
  },
});

Deno.test({
  name: "Python requests through `run --project`: verified against ca-bundle.pem, one exact row",
  ignore: !PYTHON_REQUESTS,
  async fn() {
    await withUp(async (w) => {
      const out = await runPython(w, "py-requests", PYTHON_REQUESTS!, "requests");
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stdout, /done/);
      assertChatRow(await chatRows(w), "py-requests", "explicit");
    });
  },
});

Deno.test({
  name:
    "Python httpx with `env` after `up`, strict X.509, in a git repository: one exact row for the repository",
  ignore: !PYTHON_HTTPX,
  async fn() {
    await withUp(async (w) => {
      const env = await output(meterCommand(w.dir, ["env", "--json"], { stdout: "piped", stderr: "piped" }));
      assert.equal(env.code, 0, env.stderr);
      const repo = join(w.dir, "work", "py-agent");
      await Deno.mkdir(join(repo, ".git"), { recursive: true });
      const out = await output(
        new Deno.Command(PYTHON_HTTPX!, {
          args: ["-c", PYTHON, "httpx", CHAT_URL, JSON.stringify(REQUEST)],
          cwd: repo,
          env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", HOME: w.dir, ...JSON.parse(env.stdout) },
          clearEnv: true,
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }),
      );
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stdout, /done/);
      assertChatRow(await chatRows(w), "py-agent", "git");
    });
  },
});

Deno.test({
  name: "Python httpx over HTTP/2 (the h2 library) through `run --project`: streamed, one exact row",
  ignore: !PYTHON_HTTPX_H2,
  async fn() {
    await withUp(async (w) => {
      const out = await runPython(w, "py-h2", PYTHON_HTTPX_H2!, "httpx-h2");
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stdout, /^HTTP\/2$/m, "httpx spoke HTTP/2 to the daemon");
      assert.match(out.stdout, /done/);
      assertChatRow(await chatRows(w), "py-h2", "explicit");
    });
  },
});
