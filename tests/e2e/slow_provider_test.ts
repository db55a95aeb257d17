/**
 * A provider slower than its client, as every upload meets one (the client on loopback, the provider across
 * the internet): a real daemon process (no edge: clients `CONNECT` to its own port), curl uploading through
 * it over HTTP/1.1 and HTTP/2, a WebSocket client sending frames, and a stand-in provider that reads nothing
 * for a while. The bytes must wait in TCP, not in the daemon's memory, and then arrive whole.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { patternByte, webSocketAccept, webSocketFrame } from "../../testkit/fake_provider.ts";
import { daemonHealthy, pinPorts, spawnMeter, stop, waitFor } from "../../testkit/processes.ts";
import { LeafMinter, loadOrCreateCa } from "../../tls/mod.ts";
import { readHeadText } from "../edge/_fakes.ts";

const BODY_BYTES = 48 * 1024 * 1024;
/** How long the provider reads nothing once a request arrives. */
const STALL_MS = 2500;
const ANSWER = JSON.stringify({ id: "file-1", object: "file", bytes: BODY_BYTES });

/**
 * A provider over its own CA. Once a request's head is in (and, for a WebSocket, answered `101`) it reads
 * nothing until `release`; then it reads the rest: the body its `content-length` names, answered with
 * {@linkcode ANSWER}, or `upgraded` bytes of WebSocket frames.
 */
async function stallingProvider(dir: string, upgraded = 0) {
  const caDir = join(dir, "provider-ca");
  await Deno.mkdir(caDir);
  const { ca } = await loadOrCreateCa({
    caDir,
    caKeyAndCert: join(caDir, "ca.pem"),
    caCert: join(caDir, "ca-cert.pem"),
  });
  const leaf = await new LeafMinter(ca).leafFor("api.openai.com");
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: leaf.certPem,
    key: leaf.keyPem,
    alpnProtocols: ["http/1.1"],
  });
  const arrived = Promise.withResolvers<void>();
  const released = Promise.withResolvers<void>();
  const received = Promise.withResolvers<{ head: string; body: Uint8Array }>();
  const serve = async (conn: Deno.TlsConn) => {
    const buf = new Uint8Array(64 * 1024);
    const { head, rest } = await readHeadText(conn);
    if (!head.endsWith("\r\n\r\n")) throw new Error("the daemon closed the connection before a head");
    const key = /^sec-websocket-key:\s*(\S+)/im.exec(head)?.[1];
    if (key) {
      await conn.write(new TextEncoder().encode(
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n" +
          `sec-websocket-accept: ${webSocketAccept(key)}\r\n\r\n`,
      ));
    }
    arrived.resolve();
    await released.promise;
    const length = key ? upgraded : Number(/^content-length:\s*(\d+)/im.exec(head)?.[1]);
    const body = new Uint8Array(length);
    let have = rest.length;
    body.set(rest);
    while (have < length) {
      const n = await conn.read(buf);
      if (n === null) throw new Error(`the body ended after ${have} of ${length} bytes`);
      body.set(buf.subarray(0, Math.min(n, length - have)), have);
      have += n;
    }
    received.resolve({ head, body });
    if (!key) {
      await conn.write(new TextEncoder().encode(
        `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${ANSWER.length}\r\n\r\n${ANSWER}`,
      ));
    }
  };
  const open = new Set<Deno.TlsConn>();
  const closeConn = (conn: Deno.TlsConn) => {
    if (open.delete(conn)) conn.close();
  };
  (async () => {
    for await (const conn of listener) {
      open.add(conn);
      serve(conn).catch((e) => received.reject(e)).finally(() => closeConn(conn));
    }
  })().catch(() => {});
  return {
    port: listener.addr.port,
    caFile: join(caDir, "ca-cert.pem"),
    arrived: arrived.promise,
    release: released.resolve,
    received: received.promise,
    close() {
      listener.close();
      for (const conn of open) closeConn(conn);
    },
  };
}

/** Resident memory of process `pid`, in MB. */
function rssMb(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(Deno.readTextFileSync(`/proc/${pid}/status`))![1]) / 1024;
}

type Provider = Awaited<ReturnType<typeof stallingProvider>>;

/** A daemon (no edge) in a temp home whose api.openai.com is `provider`; `fn` runs once it is healthy. */
async function withDaemon(
  upgraded: number,
  fn: (
    run: { dir: string; provider: Provider; daemon: Deno.ChildProcess; intercept: number },
  ) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "hm-slow-provider-" });
  const provider = await stallingProvider(dir, upgraded);
  const ports = await pinPorts(dir);
  await Deno.writeTextFile(
    join(dir, "config.toml"),
    `[upstream]\nca_file = ${JSON.stringify(provider.caFile)}\n` +
      `resolve = { "api.openai.com" = "127.0.0.1:${provider.port}" }\n`,
  );
  const daemon = spawnMeter(dir, "daemon");
  try {
    await waitFor("a healthy daemon", () => daemonHealthy(ports.api), 20_000);
    await fn({ dir, provider, daemon, intercept: ports.intercept });
  } finally {
    await stop(daemon);
    provider.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Once the provider has the request, how much the daemon's memory grows (MB, peak over `before`) while the
 * provider reads nothing; then lets the provider read.
 */
async function growthWhileStalled(provider: Provider, pid: number, before: number): Promise<number> {
  await provider.arrived;
  let peak = before;
  for (const until = Date.now() + STALL_MS; Date.now() < until;) {
    await new Promise((r) => setTimeout(r, 100));
    peak = Math.max(peak, rssMb(pid));
  }
  provider.release();
  return peak - before;
}

/**
 * The most the daemon's memory may grow while the provider stalls an upload: the bytes it took before it
 * paused and the garbage of handling them (11 to 14 MB here), far below the body, which it took in whole
 * (and grew by twice that) before it paused reads for real.
 */
const HELD_LIMIT_MB = BODY_BYTES / 1048576 / 2;

for (const http of ["--http1.1", "--http2"]) {
  Deno.test({
    name:
      `a ${BODY_BYTES / 1048576} MB upload (curl ${http}) to a provider that stalls waits in TCP, not in ` +
      "the daemon's memory, then arrives whole",
    ignore: Deno.build.os !== "linux",
    async fn() {
      await withDaemon(0, async ({ dir, provider, daemon, intercept }) => {
        const file = join(dir, "upload.bin");
        const sent = new Uint8Array(BODY_BYTES);
        for (let i = 0; i < sent.length; i++) sent[i] = patternByte(i);
        await Deno.writeFile(file, sent);
        const before = rssMb(daemon.pid);
        // Straight to the daemon's port, which takes CONNECTs too: through the edge, a loaded machine could see
        // the edge tunnel the call past a slow daemon, and the daemon would never hold the upload at all.
        const curl = new Deno.Command("curl", {
          args: [
            "-sS",
            http,
            "--max-time",
            "60",
            "-x",
            `http://127.0.0.1:${intercept}`,
            "--cacert",
            join(dir, ".mitmproxy", "mitmproxy-ca-cert.pem"),
            "-H",
            "content-type: application/octet-stream",
            "--data-binary",
            `@${file}`,
            "https://api.openai.com/v1/files",
          ],
          stdout: "piped",
          stderr: "piped",
        }).output();
        const grew = await growthWhileStalled(provider, daemon.pid, before);
        const out = await curl;
        assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
        assert.equal(
          new TextDecoder().decode(out.stdout),
          ANSWER,
          "the provider's answer reached the client",
        );
        const { head, body } = await provider.received;
        assert.match(head, /^POST \/v1\/files HTTP\/1\.1\r\n/);
        assert.equal(body.length, BODY_BYTES);
        const wrong = body.findIndex((b, i) => b !== sent[i]);
        assert.equal(wrong, -1, `the body arrived whole (first wrong byte at ${wrong})`);
        assert.ok(
          grew < HELD_LIMIT_MB,
          `while the provider read nothing the daemon grew by ${grew.toFixed(1)} MB: it took in the upload`,
        );
      });
    },
  });
}

Deno.test({
  name: `${BODY_BYTES / 1048576} MB of WebSocket frames to a provider that stalls wait in TCP, not in the ` +
    "daemon's memory, then arrive whole",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const payload = new Uint8Array(64 * 1024 - 1);
    for (let i = 0; i < payload.length; i++) payload[i] = patternByte(i);
    const frame = webSocketFrame(2, payload, new Uint8Array([9, 8, 7, 6]));
    const frames = Math.ceil(BODY_BYTES / frame.length);
    await withDaemon(frames * frame.length, async ({ dir, provider, daemon, intercept }) => {
      const before = rssMb(daemon.pid);
      const tcp = await Deno.connect({ hostname: "127.0.0.1", port: intercept });
      await tcp.write(
        new TextEncoder().encode("CONNECT api.openai.com:443 HTTP/1.1\r\nHost: api.openai.com:443\r\n\r\n"),
      );
      const buf = new Uint8Array(4096);
      const connected = new TextDecoder().decode(buf.subarray(0, (await tcp.read(buf))!));
      assert.match(connected, /^HTTP\/1\.1 200/);
      const ca = await Deno.readTextFile(join(dir, ".mitmproxy", "mitmproxy-ca-cert.pem"));
      const conn = await Deno.startTls(tcp, { hostname: "api.openai.com", caCerts: [ca] });
      try {
        await conn.write(new TextEncoder().encode(
          "GET /v1/realtime?model=gpt-realtime HTTP/1.1\r\nHost: api.openai.com\r\nUpgrade: websocket\r\n" +
            "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        ));
        const answer = new TextDecoder().decode(buf.subarray(0, (await conn.read(buf))!));
        assert.match(answer, /^HTTP\/1\.1 101 /);
        let sent = 0;
        const sending = (async () => {
          // A write may take part of a frame (Deno's TLS takes at most 64 KiB at once).
          for (let i = 0; i < frames; i++) {
            for (let at = 0; at < frame.length;) {
              const n = await conn.write(frame.subarray(at));
              at += n;
              sent += n;
            }
          }
        })();
        const grew = await growthWhileStalled(provider, daemon.pid, before);
        const sentWhileStalled = sent / 1048576;
        await sending;
        const { body } = await provider.received;
        for (let i = 0; i < frames; i++) {
          const at = i * frame.length;
          const wrong = body.subarray(at, at + frame.length).findIndex((b, k) => b !== frame[k]);
          assert.equal(wrong, -1, `frame ${i} arrived whole (first wrong byte at ${wrong})`);
        }
        // The client can send what the sockets' buffers on the way hold (7 to 9 MB here), then waits.
        assert.ok(
          sentWhileStalled < BODY_BYTES / 1048576 / 2,
          `while the provider read nothing the client sent ${
            sentWhileStalled.toFixed(1)
          } MB: the daemon took it in`,
        );
        // The Realtime tap reads each frame it passes, so the garbage is more than an upload's (26 to 30 MB).
        assert.ok(
          grew < BODY_BYTES / 1048576,
          `while the provider read nothing the daemon grew by ${grew.toFixed(1)} MB: it took in the frames`,
        );
      } finally {
        conn.close();
      }
    });
  },
});
