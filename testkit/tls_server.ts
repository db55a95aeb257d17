/**
 * The TLS side of a stand-in provider: a CA of its own in a folder (so a client must be told to trust it) and a
 * server that answers any name with a leaf minted by it, speaking HTTP/1.1 as providers do to the daemon.
 *
 * @module
 */
import tls from "node:tls";
import { join } from "node:path";
import { LeafMinter, loadOrCreateCa } from "../tls/mod.ts";

/** A stand-in provider's TLS server over the CA in `caDir` (made when missing), and the CA's certificate. */
export async function providerTlsServer(
  caDir: string,
): Promise<{ server: tls.Server; caFile: string; caPem: string }> {
  const { ca } = await loadOrCreateCa({
    caDir,
    caKeyAndCert: join(caDir, "ca.pem"),
    caCert: join(caDir, "ca-cert.pem"),
  });
  const minter = new LeafMinter(ca);
  const server = tls.createServer({
    ALPNProtocols: ["http/1.1"],
    SNICallback: (name, cb) => {
      minter.leafFor(name || "127.0.0.1").then(
        (leaf) => cb(null, tls.createSecureContext({ key: leaf.keyPem, cert: leaf.certPem })),
        (e) => cb(e, undefined),
      );
    },
  });
  return { server, caFile: join(caDir, "ca-cert.pem"), caPem: ca.certPem };
}
