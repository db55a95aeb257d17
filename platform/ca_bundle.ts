/**
 * `ca-bundle.pem` (README.md, "Files"): the system roots followed by our CA, for the variables
 * (`SSL_CERT_FILE`, `REQUESTS_CA_BUNDLE`, …) that replace a tool's roots with a file. Pure text in, text out.
 *
 * @module
 */
import { MeterError } from "../core/errors.ts";

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----\r?\n([\s\S]*?)-----END CERTIFICATE-----/g;

/** The comment line written above our CA in the bundle, so a person reading the file can find it. */
export const BUNDLE_LABEL = "# Halton Meter CA";

/**
 * The certificates in a PEM text, each normalised (LF line ends, no stray spaces). Anything else in the
 * text, a private key above all, is left out.
 */
export function pemCertificates(text: string): string[] {
  return [...text.matchAll(CERT_BLOCK)].map((m) => {
    const body = m[1].split(/\r?\n/).map((l) => l.trim()).filter(Boolean).join("\n");
    return `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`;
  });
}

/**
 * The bundle: every certificate of `systemRootsPem`, then those of `caPem` not already among them.
 * `caPem` may be the key-and-certificate file: only certificates are copied.
 *
 * @throws {MeterError} when either text has no certificate (a bundle without the system roots would break
 *   every other TLS connection of the tools that read it).
 */
export function caBundle(systemRootsPem: string, caPem: string): string {
  const roots = pemCertificates(systemRootsPem);
  if (roots.length === 0) {
    throw new MeterError("no certificate found in the system's root certificates", {
      hint:
        "Install the OS's CA certificates package (e.g. ca-certificates), then run 'halton-meter init' again.",
    });
  }
  const ours = pemCertificates(caPem);
  if (ours.length === 0) {
    throw new MeterError("the Halton Meter CA file holds no certificate", {
      hint: "Run 'halton-meter init' to create the CA again.",
    });
  }
  const seen = new Set(roots);
  const added = ours.filter((c) => !seen.has(c));
  return roots.join("") + (added.length ? `${BUNDLE_LABEL}\n${added.join("")}` : "");
}

/** SHA-1 fingerprint of the first certificate in `pem`, upper-case hex: how keychains and `certutil` name it. */
export async function certSha1(pem: string): Promise<string> {
  const [first] = pemCertificates(pem);
  if (!first) {
    throw new MeterError("no certificate found in the CA file", { hint: "Run 'halton-meter init'." });
  }
  const b64 = first.split("\n").filter((l) => l && !l.startsWith("-----")).join("");
  const der = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-1", der));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("").toUpperCase();
}
