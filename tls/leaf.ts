/**
 * Per-host leaf certificates, minted on first use and signed by the local CA (docs/architecture.md, "The
 * request path"): ECDSA P-256, valid 397 days from a day back (clock skew) and never past the CA, the host in
 * the subject CN and the SAN (`dNSName`, or `iPAddress` for an address), serverAuth only, critical
 * basicConstraints CA:FALSE and keyUsage digitalSignature, SKI and AKI. This profile passes OpenSSL 3's
 * strict verification (Python 3.13's default), Go, Node, curl and Apple's 398-day rule.
 *
 * The certificate bytes are assembled directly (see `_der.ts`) and signed with WebCrypto: a leaf costs about
 * 0.6 ms with a P-256 CA, most of it the signature.
 *
 * @module
 */
// tsyringe, under @peculiar/x509, needs the Reflect metadata API loaded first.
import "reflect-metadata";
import { AuthorityKeyIdentifierExtension, SubjectKeyIdentifierExtension } from "@peculiar/x509";
import { MeterError } from "../core/errors.ts";
import type { CaMaterial } from "./ca.ts";
import { type CaSigner, importCaSigner, KEY_LABELS, parsePem, toPem } from "./_keys.ts";
import { children, ecdsaSignatureToDer, fromHex, readTlv, Tag, time, tlv } from "./_der.ts";
import { randomSerialBytes } from "./_serial.ts";

/** A leaf's private key (PKCS#8) and certificate (alone, no chain), as PEM. */
export interface Leaf {
  keyPem: string;
  certPem: string;
}

const DAY_MS = 24 * 3600 * 1000;
/** Total validity, inside Apple's 398-day limit for TLS server certificates. */
const LEAF_VALIDITY_MS = 397 * DAY_MS;
/** A leaf is replaced this long before it expires, so a daemon that runs for a year never serves a stale one. */
const RENEW_BEFORE_MS = 30 * DAY_MS;
/** Names kept; past it the least recently used is dropped (a client can send any SNI it likes). */
const MAX_CACHED = 1024;
/** X.520's upper bound for a common name; a longer host is named by the SAN alone. */
const MAX_CN_LENGTH = 64;

const VERSION_3 = fromHex("a003020102");
const OID_CN = fromHex("0603550403");
const OID_O = fromHex("060355040a");
/** SubjectPublicKeyInfo up to the EC point: id-ecPublicKey, prime256v1, BIT STRING of 66 bytes. */
const P256_SPKI_PREFIX = fromHex("3059301306072a8648ce3d020106082a8648ce3d030107034200");
/** basicConstraints, critical, CA:FALSE (an empty SEQUENCE). */
const EXT_BASIC_CONSTRAINTS = fromHex("300c0603551d130101ff04023000");
/** keyUsage, critical, digitalSignature only. */
const EXT_KEY_USAGE = fromHex("300e0603551d0f0101ff040403020780");
/** extendedKeyUsage: serverAuth. */
const EXT_SERVER_AUTH = fromHex("30130603551d25040c300a06082b06010505070301");
const OID_SAN = fromHex("0603551d11");
const OID_SKI = fromHex("0603551d0e");
const OID_AKI = fromHex("0603551d23");

interface Entry {
  leaf: Promise<Leaf>;
  renewAt: number;
}

/** What every leaf of one CA shares, worked out once. */
interface Issuer extends CaSigner {
  /** The CA certificate's subject, byte for byte: verifiers match the leaf's issuer against it. */
  name: Uint8Array;
  /** The authorityKeyIdentifier extension naming the CA's key. */
  akiExtension: Uint8Array;
  notAfter: number;
}

/** Mints and caches leaf certificates for host names and IP addresses. */
export class LeafMinter {
  readonly #ca: CaMaterial;
  readonly #now: () => Date;
  readonly #cache = new Map<string, Entry>();
  #issuer?: Promise<Issuer>;
  #minted = 0;

  /** `ca` as returned by `loadOrCreateCa`; `now` is the clock, for tests. */
  constructor(ca: CaMaterial, options: { now?: () => Date } = {}) {
    this.#ca = ca;
    this.#now = options.now ?? (() => new Date());
  }

  /** How many leaves have been minted (cache misses), for logs and tests. */
  get minted(): number {
    return this.#minted;
  }

  /**
   * Key + cert (PEM; cert followed by nothing else) for a host name or IP, minted on first use and cached.
   * Names are compared without case or a trailing dot; concurrent calls for one name share one mint.
   *
   * @throws {MeterError} (as a rejection) when `servername` is neither a host name nor an IP address, or the
   * CA cannot sign.
   */
  leafFor(servername: string): Promise<Leaf> {
    let name: string;
    try {
      name = normalizeName(servername);
    } catch (e) {
      return Promise.reject(e);
    }
    const now = this.#now().getTime();
    const hit = this.#cache.get(name);
    if (hit) {
      this.#cache.delete(name);
      if (hit.renewAt > now) {
        this.#cache.set(name, hit);
        return hit.leaf;
      }
    }
    const entry = { renewAt: Infinity } as Entry;
    entry.leaf = this.#mint(name, now, entry);
    this.#cache.set(name, entry);
    if (this.#cache.size > MAX_CACHED) this.#cache.delete(this.#cache.keys().next().value!);
    entry.leaf.catch(() => {
      if (this.#cache.get(name) === entry) this.#cache.delete(name);
    });
    return entry.leaf;
  }

  /** Mints one leaf; sets `entry.renewAt` once the CA's own expiry, which may cap the leaf's, is known. */
  async #mint(name: string, now: number, entry: Entry): Promise<Leaf> {
    this.#minted++;
    const issuer = await this.#loadIssuer();
    const notBefore = now - DAY_MS;
    const notAfter = Math.min(notBefore + LEAF_VALIDITY_MS, issuer.notAfter);
    entry.renewAt = notAfter - Math.min(RENEW_BEFORE_MS, (notAfter - now) / 2);
    const keys = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
      "sign",
      "verify",
    ]);
    const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
    const point = publicPoint(pkcs8) ?? new Uint8Array(await crypto.subtle.exportKey("raw", keys.publicKey));
    const keyId = new Uint8Array(await crypto.subtle.digest("SHA-1", point));
    const ip = ipBytes(name);
    const subjectAttribute = name.length <= MAX_CN_LENGTH
      ? [OID_CN, tlv(Tag.Utf8String, new TextEncoder().encode(name))]
      : [OID_O, tlv(Tag.Utf8String, new TextEncoder().encode("Halton Meter"))];
    const tbs = tlv(
      Tag.Sequence,
      VERSION_3,
      tlv(Tag.Integer, randomSerialBytes()),
      issuer.algorithmId,
      issuer.name,
      tlv(Tag.Sequence, time(new Date(notBefore)), time(new Date(notAfter))),
      tlv(Tag.Sequence, tlv(Tag.Set, tlv(Tag.Sequence, ...subjectAttribute))),
      P256_SPKI_PREFIX,
      point,
      tlv(
        0xa3,
        tlv(
          Tag.Sequence,
          EXT_BASIC_CONSTRAINTS,
          EXT_KEY_USAGE,
          EXT_SERVER_AUTH,
          // SAN: iPAddress [7] with the address bytes, or dNSName [2] with the IA5 name.
          tlv(
            Tag.Sequence,
            OID_SAN,
            tlv(Tag.OctetString, tlv(Tag.Sequence, ip ? tlv(0x87, ip) : tlv(0x82, ascii(name)))),
          ),
          tlv(Tag.Sequence, OID_SKI, tlv(Tag.OctetString, tlv(Tag.OctetString, keyId))),
          issuer.akiExtension,
        ),
      ),
    );
    const signature = new Uint8Array(await crypto.subtle.sign(issuer.signParams, issuer.key, tbs));
    const cert = tlv(
      Tag.Sequence,
      tbs,
      issuer.algorithmId,
      tlv(
        Tag.BitString,
        [0],
        issuer.key.algorithm.name === "ECDSA" ? ecdsaSignatureToDer(signature) : signature,
      ),
    );
    return { keyPem: toPem("PRIVATE KEY", pkcs8), certPem: toPem("CERTIFICATE", cert) };
  }

  #loadIssuer(): Promise<Issuer> {
    this.#issuer ??= (async () => {
      const blocks = [...parsePem(this.#ca.keyPem), ...parsePem(this.#ca.certPem)];
      const keyBlock = blocks.find((b) => (KEY_LABELS as readonly string[]).includes(b.label));
      const certBlock = blocks.find((b) => b.label === "CERTIFICATE");
      if (!keyBlock || !certBlock) throw new Error("the CA material lacks a private key or a certificate");
      const signer = await importCaSigner(keyBlock, certBlock.der);
      const keyId = signer.cert.getExtension(SubjectKeyIdentifierExtension)?.keyId ??
        (await AuthorityKeyIdentifierExtension.create(signer.cert.publicKey)).keyId!;
      const aki = tlv(
        Tag.Sequence,
        OID_AKI,
        tlv(Tag.OctetString, tlv(Tag.Sequence, tlv(0x80, fromHex(keyId)))),
      );
      return {
        ...signer,
        name: subjectOf(certBlock.der),
        akiExtension: aki,
        notAfter: signer.cert.notAfter.getTime(),
      };
    })().catch((e) => {
      this.#issuer = undefined;
      throw new MeterError(`the CA cannot sign certificates: ${(e as Error).message}`, {
        hint: "Run 'halton-meter doctor' to check the CA.",
        cause: e,
      });
    });
    return this.#issuer;
  }
}

/** The raw subject Name of a certificate: Certificate → TBSCertificate → the field after the validity. */
function subjectOf(certDer: Uint8Array): Uint8Array {
  const tbs = children(certDer, readTlv(certDer, 0))[0];
  const fields = children(certDer, tbs);
  const offset = fields[0].tag === 0xa0 ? 1 : 0;
  const subject = fields[offset + 4];
  return certDer.subarray(subject.start, subject.end);
}

/**
 * The uncompressed public point a P-256 PKCS#8 key carries at its end (`[1] BIT STRING 04‖x‖y`). Exporting the
 * public key costs a quarter of a millisecond, more than anything in minting but the signature; reading it
 * here costs nothing. Undefined when the layout is not the expected one.
 */
function publicPoint(pkcs8: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> | undefined {
  const at = pkcs8.length - 65;
  const ok = at > 5 && pkcs8[at - 5] === 0xa1 && pkcs8[at - 4] === 0x44 && pkcs8[at - 3] === 0x03 &&
    pkcs8[at - 2] === 0x42 && pkcs8[at - 1] === 0x00 && pkcs8[at] === 0x04;
  return ok ? pkcs8.subarray(at) : undefined;
}

function ascii(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const DNS_LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** The 4 or 16 bytes of a normalized address, or undefined for a host name. */
function ipBytes(name: string): Uint8Array | undefined {
  if (IPV4.test(name)) return Uint8Array.from(name.split("."), Number);
  if (!name.includes(":")) return undefined;
  const [head, tail] = name.includes("::") ? name.split("::") : [name, undefined];
  const groups = (s: string | undefined) => s ? s.split(":").map((g) => parseInt(g, 16)) : [];
  const front = groups(head);
  const back = groups(tail);
  const all = [...front, ...new Array(8 - front.length - back.length).fill(0), ...back];
  return Uint8Array.from(all.flatMap((g) => [g >> 8, g & 0xff]));
}

/**
 * The canonical form of a host name or address: lower case, no trailing dot, IPv6 without brackets and in
 * the shortest form (WHATWG URL parsing also turns an embedded IPv4 tail into hex groups).
 */
function normalizeName(servername: string): string {
  let name = servername.trim().toLowerCase().replace(/\.$/, "");
  if (name.startsWith("[") && name.endsWith("]")) name = name.slice(1, -1);
  if (name.includes(":")) {
    try {
      return new URL(`https://[${name}]/`).hostname.slice(1, -1);
    } catch { /* not an IPv6 address: rejected below */ }
  } else if (IPV4.test(name)) {
    return name;
  } else if (
    name.length <= 253 && name.split(".").every((l) => DNS_LABEL.test(l)) &&
    !/^\d+$/.test(name.split(".").at(-1)!)
  ) {
    return name;
  }
  throw new MeterError(`cannot make a certificate for '${servername}': not a host name or IP address`);
}
