/**
 * Bench only: the daemon's interception with nothing above TLS. It takes the edge's handover with the daemon's
 * own CONNECT reader, terminates TLS with the daemon's own front and CA, and opens provider connections with
 * the daemon's own upstream pool; but it relays each decrypted connection byte for byte to a provider
 * connection of its own: no HTTP, no metering, no database. Its throughput through the edge is the bound this
 * machine and runtime put on the daemon, which the capture section reports next to the daemon's.
 *
 * Run as a process of its own, like the daemon (`HALTON_METER_HOME` set): it listens on the intercept port and
 * answers `/health` on the api port, so the edge hands it the metered hosts.
 *
 * @module
 */
import net from "node:net";
import type tls from "node:tls";
import { Buffer } from "node:buffer";
import { defaultPaths } from "../../core/paths.ts";
import { loadConfig } from "../../core/config.ts";
import { effectivePorts } from "../../core/ports.ts";
import { VERSION } from "../../core/version.ts";
import { LeafMinter, loadOrCreateCa } from "../../tls/mod.ts";
import { UpstreamPool } from "../../daemon/upstream/pool.ts";
import { readConnectHead } from "../../daemon/intercept/connect.ts";
import { type ConnMeta, TlsFront } from "../../daemon/intercept/tls_front.ts";

/** Relays `client` to a new provider connection until either side ends. */
async function relay(pool: UpstreamPool, client: tls.TLSSocket, meta: ConnMeta): Promise<void> {
  client.pause();
  let tunnel;
  try {
    tunnel = await pool.open({ host: meta.host, port: meta.port });
  } catch {
    client.destroy();
    return;
  }
  const { conn } = tunnel;
  const closeBoth = () => {
    tunnel.close();
    client.destroy();
  };
  client.on("data", (data: Buffer) => {
    client.pause();
    conn.write(data).then(() => client.resume(), closeBoth);
  });
  client.on("close", closeBoth);
  client.resume();
  const buf = new Uint8Array(64 * 1024);
  try {
    while (true) {
      const n = await conn.read(buf);
      if (n === null) break;
      if (!client.write(Buffer.from(buf.subarray(0, n)))) {
        await new Promise((resolve) => client.once("drain", resolve));
      }
    }
  } catch { /* the provider reset: close both below */ }
  closeBoth();
}

if (import.meta.main) {
  const paths = defaultPaths();
  const loaded = loadConfig(paths.config);
  const ports = effectivePorts(paths.effectivePorts, loaded);
  const pool = new UpstreamPool(loaded.config.upstream);
  const front = new TlsFront(
    new LeafMinter((await loadOrCreateCa(paths)).ca),
    (socket, meta) => {
      socket.on("error", () => {});
      relay(pool, socket, meta);
    },
    () => {},
  );
  net.createServer(async (socket) => {
    socket.on("error", () => {});
    socket.setNoDelay(true);
    const head = await readConnectHead(socket, 10_000);
    if (!head.ok) {
      socket.destroy();
      return;
    }
    socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
    if (head.rest.length) socket.unshift(head.rest);
    front.accept(socket, {
      host: head.request.host,
      port: head.request.port,
      client: head.request.client ?? "",
    });
  }).listen(ports.intercept, "127.0.0.1");
  Deno.serve(
    { hostname: "127.0.0.1", port: ports.api, onListen: () => {} },
    () => Response.json({ status: "ok", version: VERSION }),
  );
}
