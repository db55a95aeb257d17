/**
 * The local certificate authority (README.md, "Files"): the original's `~/.mitmproxy/mitmproxy-ca.pem`
 * (private key and certificate in one file) is reused when present, so trust given to the original carries
 * over; otherwise a new CA is made and written beside it in the same form, with `mitmproxy-ca-cert.pem`
 * holding the certificate alone for trust stores. An existing CA file is never rewritten, even when it is
 * unusable.
 *
 * New CAs use ECDSA P-256: every client we serve (OpenSSL 3 strict mode, Go, Node, curl, Apple, Windows)
 * accepts it, its key is made in microseconds, and signing a leaf with it costs a fraction of an RSA-2048
 * signature, which keeps minting on the first request to each host cheap.
 *
 * @module
 */
// tsyringe, under @peculiar/x509, needs the Reflect metadata API loaded first.
import "reflect-metadata";
import {
  AuthorityKeyIdentifierExtension,
  BasicConstraintsExtension,
  type JsonName,
  KeyUsageFlags,
  KeyUsagesExtension,
  SubjectKeyIdentifierExtension,
  X509CertificateGenerator,
} from "@peculiar/x509";
import type { Paths } from "../core/paths.ts";
import { MeterError } from "../core/errors.ts";
import { importCaSigner, KEY_LABELS, parsePem, type PemBlock, toPem } from "./_keys.ts";
import { randomSerial } from "./_serial.ts";

/** The CA as PEM strings: the certificate, and its private key (PKCS#8). */
export interface CaMaterial {
  certPem: string;
  keyPem: string;
}

const CA_NAME: JsonName = [{ O: ["Halton Meter"] }, { CN: ["Halton Meter CA"] }];

/**
 * Loads the CA from `caKeyAndCert`, or creates one when that file does not exist.
 *
 * A created CA is written as `caKeyAndCert` (key and certificate, mode 0600, in a folder made with mode 0700)
 * and `caCert` (certificate only, 0644). The key file is linked into place, so two processes creating at
 * once end up sharing the CA of whichever came first. A reused CA whose `caCert` is missing gets that file
 * written; nothing else is touched.
 *
 * @throws {MeterError} when the CA file exists but cannot be read or used (naming the file and how to
 * recover), or has expired.
 */
export async function loadOrCreateCa(
  paths: Pick<Paths, "caDir" | "caKeyAndCert" | "caCert">,
  options: { now?: Date } = {},
): Promise<{ ca: CaMaterial; created: boolean }> {
  const now = options.now ?? new Date();
  const existing = await readCaFile(paths.caKeyAndCert);
  if (existing !== undefined) {
    const ca = await parseCaFile(existing, paths.caKeyAndCert, now);
    await writeIfMissing(paths.caCert, ca.certPem, 0o644).catch((e) => {
      throw cannotWrite(paths.caDir, e);
    });
    return { ca, created: false };
  }
  const ca = await createCa(now);
  try {
    await Deno.mkdir(paths.caDir, { recursive: true, mode: 0o700 });
    if (!await linkNew(paths.caKeyAndCert, ca.keyPem + ca.certPem, 0o600)) {
      return await loadOrCreateCa(paths, options);
    }
    const certTmp = `${paths.caCert}.${Deno.pid}.${crypto.randomUUID()}.tmp`;
    await Deno.writeTextFile(certTmp, ca.certPem, { mode: 0o644 });
    // An unusual umask must not leave trust tools unable to read the certificate.
    await Deno.chmod(certTmp, 0o644).catch(() => {});
    await Deno.rename(certTmp, paths.caCert);
  } catch (e) {
    throw cannotWrite(paths.caDir, e);
  }
  return { ca, created: true };
}

/** Makes a new self-signed P-256 CA, valid for ten years from a minute before `now`. */
async function createCa(now: Date): Promise<CaMaterial> {
  const keys = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]);
  const notBefore = new Date(now.getTime() - 60_000);
  const notAfter = new Date(notBefore);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + 10);
  const ski = await SubjectKeyIdentifierExtension.create(keys.publicKey);
  const cert = await X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: CA_NAME,
    notBefore,
    notAfter,
    keys,
    signingAlgorithm: { name: "ECDSA", hash: "SHA-256" } as EcdsaParams,
    extensions: [
      new BasicConstraintsExtension(true, 0, true),
      new KeyUsagesExtension(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign, true),
      ski,
      new AuthorityKeyIdentifierExtension(ski.keyId),
    ],
  });
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
  return { keyPem: toPem("PRIVATE KEY", pkcs8), certPem: toPem("CERTIFICATE", new Uint8Array(cert.rawData)) };
}

async function readCaFile(file: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(file);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw new MeterError(`cannot read the CA file ${file}: ${(e as Error).message}`, {
      hint: `Make ${file} and its folder readable by you (or set HALTON_METER_CA_DIR to another folder).`,
      cause: e,
    });
  }
}

/** Checks a CA file's text (key and certificate in either order) and returns it as {@linkcode CaMaterial}. */
async function parseCaFile(text: string, file: string, now: Date): Promise<CaMaterial> {
  let blocks: PemBlock[];
  try {
    blocks = parsePem(text);
  } catch (e) {
    throw unusable(file, (e as Error).message);
  }
  const certBlock = blocks.find((b) => b.label === "CERTIFICATE");
  const keyBlock = blocks.find((b) => (KEY_LABELS as readonly string[]).includes(b.label));
  if (!certBlock || !keyBlock) {
    const encrypted = blocks.some((b) => b.label === "ENCRYPTED PRIVATE KEY");
    const missing = !certBlock
      ? "no CERTIFICATE block"
      : encrypted
      ? "a private key encrypted with a passphrase, which the meter cannot use"
      : "no unencrypted PRIVATE KEY block";
    throw unusable(file, `has ${missing}`);
  }
  let signer;
  try {
    signer = await importCaSigner(keyBlock, certBlock.der);
  } catch (e) {
    throw unusable(file, `is not a usable CA: ${(e as Error).message}`);
  }
  const constraints = signer.cert.getExtension(BasicConstraintsExtension);
  if (!constraints?.ca) {
    throw unusable(file, "holds a certificate that is not a CA (no basicConstraints CA:TRUE)");
  }
  if (signer.cert.notAfter.getTime() <= now.getTime()) {
    throw unusable(file, `holds a CA that expired on ${signer.cert.notAfter.toISOString().slice(0, 10)}`);
  }
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", signer.key));
  return { keyPem: toPem("PRIVATE KEY", pkcs8), certPem: toPem("CERTIFICATE", certBlock.der) };
}

function unusable(file: string, detail: string): MeterError {
  return new MeterError(`the CA file ${file} ${detail}; it was left untouched`, {
    hint: `Move it aside (mv ${file} ${file}.bad) and run 'halton-meter init' to create a new CA; ` +
      "apps that trusted the old one will need to trust the new one.",
  });
}

/**
 * Writes `text` to `file` only if no file is there, all at once: a temp file hard-linked into place, so a
 * reader never sees half a key and a concurrent creator's file is never replaced. False when one was there.
 */
async function linkNew(file: string, text: string, mode: number): Promise<boolean> {
  const tmp = `${file}.${Deno.pid}.${crypto.randomUUID()}.tmp`;
  await Deno.writeTextFile(tmp, text, { mode, createNew: true });
  try {
    await Deno.link(tmp, file);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) return false;
    throw e;
  } finally {
    await Deno.remove(tmp);
  }
}

/** A failed file operation while writing the CA, as the error the user sees. */
function cannotWrite(dir: string, e: unknown): unknown {
  if (e instanceof MeterError) return e;
  return new MeterError(`cannot write the CA files in ${dir}: ${(e as Error).message}`, {
    hint:
      `Make ${dir} a folder you can write to (or set HALTON_METER_CA_DIR), then run 'halton-meter init' again.`,
    cause: e,
  });
}

async function writeIfMissing(file: string, text: string, mode: number): Promise<void> {
  try {
    await Deno.writeTextFile(file, text, { mode, createNew: true });
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
  }
}
