/**
 * Bench section: minting leaf certificates, the cost a client pays on the first call to a new host name.
 *
 * @module
 */
import { LeafMinter, loadOrCreateCa } from "../../tls/mod.ts";
import type { BenchResult } from "../bench.ts";

/** Mints 200 P-256 leaves in a row against a fresh CA and reports the time per leaf. */
export async function run(): Promise<BenchResult[]> {
  const dir = await Deno.makeTempDir({ prefix: "halton-bench-tls-" });
  try {
    const { ca } = await loadOrCreateCa({
      caDir: dir,
      caKeyAndCert: `${dir}/mitmproxy-ca.pem`,
      caCert: `${dir}/mitmproxy-ca-cert.pem`,
    });
    const minter = new LeafMinter(ca);
    await minter.leafFor("warm.example");
    const n = 200;
    const start = performance.now();
    for (let i = 0; i < n; i++) await minter.leafFor(`host${i}.example`);
    const value = (performance.now() - start) / n;
    return [{ name: "leaf certificate mint, P-256 (mean of 200)", value, unit: "ms", target: 1 }];
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
