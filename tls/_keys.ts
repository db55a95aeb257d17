/**
 * PEM blocks and private keys in the forms a CA file may hold: PKCS#8 (`PRIVATE KEY`), PKCS#1
 * (`RSA PRIVATE KEY`, what older mitmproxy wrote) and SEC1 (`EC PRIVATE KEY`). WebCrypto imports PKCS#8
 * only, so the other two are wrapped in a PKCS#8 envelope first; the algorithm and curve come from the
 * certificate, which must carry the matching public key.
 *
 * @module
 */
// tsyringe, under @peculiar/x509, needs the Reflect metadata API loaded first.
import "reflect-metadata";
import { X509Certificate } from "@peculiar/x509";
import { fromHex, tlv as der } from "./_der.ts";

/** One `-----BEGIN <label>-----` block, decoded. */
export interface PemBlock {
  label: string;
  der: Uint8Array<ArrayBuffer>;
  /** RFC 1421 headers (`Proc-Type: 4,ENCRYPTED` marks a legacy encrypted key). */
  headers: string[];
}

/** A CA key ready to sign, with the certificate it belongs to. */
export interface CaSigner {
  cert: X509Certificate;
  key: CryptoKey;
  /** What `crypto.subtle.sign` takes: ECDSA with the curve's hash, or RSA PKCS#1 v1.5 (hash bound to the key). */
  signParams: AlgorithmIdentifier | EcdsaParams;
  /** The DER AlgorithmIdentifier naming that signature in a certificate. */
  algorithmId: Uint8Array<ArrayBuffer>;
}

/**
 * Splits PEM text into its blocks, in order; text around them is ignored.
 *
 * @throws {Error} when a block's body is not base64.
 */
export function parsePem(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  const re = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;
  for (const m of text.matchAll(re)) {
    const lines = m[2].split(/\r?\n/);
    const headers = lines.filter((l) => /^[A-Za-z-]+:/.test(l));
    const body = lines.filter((l) => !/^[A-Za-z-]+:/.test(l)).join("").replace(/\s+/g, "");
    let binary: string;
    try {
      binary = atob(body);
    } catch {
      throw new Error(`its ${m[1]} block is not valid base64`);
    }
    const der = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) der[i] = binary.charCodeAt(i);
    blocks.push({ label: m[1], der, headers });
  }
  return blocks;
}

/** Encodes DER as a PEM block with 64-character lines. */
export function toPem(label: string, der: Uint8Array): string {
  let binary = "";
  for (const b of der) binary += String.fromCharCode(b);
  const b64 = btoa(binary);
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** The private key labels a CA file may use. */
export const KEY_LABELS = ["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"] as const;

/** Per curve: its OID (for a SEC1 key's PKCS#8 envelope), the hash ECDSA pairs with it, and that signature's id. */
const CURVES: Record<string, { oid: Uint8Array; hash: string; algorithmId: Uint8Array<ArrayBuffer> }> = {
  "P-256": {
    oid: fromHex("06082a8648ce3d030107"),
    hash: "SHA-256",
    algorithmId: fromHex("300a06082a8648ce3d040302"),
  },
  "P-384": {
    oid: fromHex("06052b81040022"),
    hash: "SHA-384",
    algorithmId: fromHex("300a06082a8648ce3d040303"),
  },
  "P-521": {
    oid: fromHex("06052b81040023"),
    hash: "SHA-512",
    algorithmId: fromHex("300a06082a8648ce3d040304"),
  },
};
const SHA256_WITH_RSA_ID = fromHex("300d06092a864886f70d01010b0500");
const RSA_ALGORITHM_ID = fromHex("300d06092a864886f70d0101010500");
const EC_PUBLIC_KEY_OID = fromHex("06072a8648ce3d0201");

/**
 * Imports the CA's private key for signing and checks that it is the key of `certDer`.
 *
 * @throws {Error} with a reason fit for the user: encrypted key, unsupported algorithm, key and certificate
 * that do not belong together, or bytes that are not a key.
 */
export async function importCaSigner(
  keyBlock: PemBlock,
  certDer: Uint8Array<ArrayBuffer>,
): Promise<CaSigner> {
  if (keyBlock.headers.some((h) => /ENCRYPTED/i.test(h))) {
    throw new Error("its private key is encrypted with a passphrase, which the meter cannot use");
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certDer);
  } catch {
    throw new Error("its CERTIFICATE block is not an X.509 certificate");
  }
  const pub = cert.publicKey.algorithm as Algorithm & { namedCurve?: string };
  let importAlgorithm: RsaHashedImportParams | EcKeyImportParams;
  let signParams: AlgorithmIdentifier | EcdsaParams;
  let algorithmId: Uint8Array<ArrayBuffer>;
  let pkcs8: Uint8Array<ArrayBuffer>;
  const curve = pub.name === "ECDSA" && pub.namedCurve ? CURVES[pub.namedCurve] : undefined;
  if (curve) {
    importAlgorithm = { name: "ECDSA", namedCurve: pub.namedCurve! };
    signParams = { name: "ECDSA", hash: curve.hash };
    algorithmId = curve.algorithmId;
    pkcs8 = keyBlock.label === "EC PRIVATE KEY"
      ? der(
        0x30,
        [0x02, 0x01, 0x00],
        der(0x30, EC_PUBLIC_KEY_OID, curve.oid),
        der(0x04, keyBlock.der),
      )
      : keyBlock.der;
  } else if (pub.name === "RSASSA-PKCS1-v1_5" || pub.name === "RSA-PSS" || pub.name === "RSA-OAEP") {
    importAlgorithm = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
    signParams = { name: "RSASSA-PKCS1-v1_5" };
    algorithmId = SHA256_WITH_RSA_ID;
    pkcs8 = keyBlock.label === "RSA PRIVATE KEY"
      ? der(0x30, [0x02, 0x01, 0x00], RSA_ALGORITHM_ID, der(0x04, keyBlock.der))
      : keyBlock.der;
  } else {
    throw new Error(`its certificate's key type (${pub.name}) is not supported; use an RSA or ECDSA CA`);
  }
  let key: CryptoKey;
  try {
    key = await crypto.subtle.importKey("pkcs8", pkcs8, importAlgorithm, true, ["sign"]);
  } catch {
    throw new Error(`its ${keyBlock.label} block is not a private key for the certificate's ${pub.name} key`);
  }
  const publicKey = await cert.publicKey.export(importAlgorithm, ["verify"]);
  if (!sameKey(await crypto.subtle.exportKey("jwk", key), await crypto.subtle.exportKey("jwk", publicKey))) {
    throw new Error("its private key does not belong to its certificate");
  }
  return { cert, key, signParams, algorithmId };
}

function sameKey(a: JsonWebKey, b: JsonWebKey): boolean {
  return a.kty === b.kty && a.n === b.n && a.e === b.e && a.crv === b.crv && a.x === b.x && a.y === b.y;
}
