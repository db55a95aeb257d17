import assert from "node:assert/strict";
import "reflect-metadata";
import {
  AuthorityKeyIdentifierExtension,
  BasicConstraintsExtension,
  ExtendedKeyUsage,
  ExtendedKeyUsageExtension,
  KeyUsageFlags,
  KeyUsagesExtension,
  SubjectAlternativeNameExtension,
  SubjectKeyIdentifierExtension,
} from "@peculiar/x509";
import { type CaMaterial, loadOrCreateCa } from "../../tls/ca.ts";
import { LeafMinter } from "../../tls/leaf.ts";
import { MeterError } from "../../core/errors.ts";
import { caPaths, parseCert } from "./_helpers.ts";

const DAY = 24 * 3600 * 1000;

async function freshCa(now?: Date): Promise<CaMaterial> {
  const root = await Deno.makeTempDir({ prefix: "halton-leaf-" });
  try {
    return (await loadOrCreateCa(caPaths(root), { now })).ca;
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

const ca = await freshCa();
const caCert = parseCert(ca.certPem);

Deno.test("leafFor() mints a P-256 server certificate for the host, signed by the CA", async () => {
  const now = new Date();
  const leaf = await new LeafMinter(ca, { now: () => now }).leafFor("api.openai.com");
  assert.equal(leaf.certPem.match(/BEGIN CERTIFICATE/g)?.length, 1, "the certificate alone, no chain");
  assert.match(leaf.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
  const cert = parseCert(leaf.certPem);
  assert.equal(cert.subject, "CN=api.openai.com");
  assert.equal(cert.issuer, caCert.subject);
  assert.deepEqual(cert.publicKey.algorithm, { name: "ECDSA", namedCurve: "P-256" });
  assert.ok(await cert.verify({ publicKey: caCert.publicKey, signatureOnly: true }), "CA signature verifies");

  const san = cert.getExtension(SubjectAlternativeNameExtension)!;
  assert.deepEqual(san.names.toJSON(), [{ type: "dns", value: "api.openai.com" }]);
  const eku = cert.getExtension(ExtendedKeyUsageExtension)!;
  assert.deepEqual([...eku.usages], [ExtendedKeyUsage.serverAuth]);
  const ku = cert.getExtension(KeyUsagesExtension)!;
  assert.deepEqual([ku.critical, ku.usages], [true, KeyUsageFlags.digitalSignature]);
  const bc = cert.getExtension(BasicConstraintsExtension)!;
  assert.deepEqual([bc.critical, bc.ca], [true, false]);
  const aki = cert.getExtension(AuthorityKeyIdentifierExtension)!;
  assert.equal(aki.keyId, caCert.getExtension(SubjectKeyIdentifierExtension)!.keyId);
  const ski = cert.getExtension(SubjectKeyIdentifierExtension)!;
  const expectedSki = await SubjectKeyIdentifierExtension.create(cert.publicKey);
  assert.equal(ski.keyId, expectedSki.keyId);

  assert.equal(cert.notBefore.getTime(), Math.floor((now.getTime() - DAY) / 1000) * 1000);
  const days = (cert.notAfter.getTime() - cert.notBefore.getTime()) / DAY;
  assert.ok(days <= 397 && days > 396, `valid ${days} days`);
  assert.ok(/^[0-7]/.test(cert.serialNumber), `positive serial ${cert.serialNumber}`);
});

Deno.test("leafFor() puts an IP address in an iPAddress SAN, IPv4 and IPv6", async () => {
  const minter = new LeafMinter(ca);
  for (
    const [asked, expected] of [
      ["127.0.0.1", "127.0.0.1"],
      ["[::1]", "::1"],
      ["2001:DB8:0:0:0:0:0:1", "2001:db8::1"],
    ]
  ) {
    const cert = parseCert((await minter.leafFor(asked)).certPem);
    assert.deepEqual(cert.getExtension(SubjectAlternativeNameExtension)!.names.toJSON(), [
      { type: "ip", value: expected },
    ]);
    assert.equal(cert.subject, `CN=${expected}`);
  }
});

Deno.test("leafFor() names a host longer than a CN allows by its SAN alone", async () => {
  const host = `${"a".repeat(60)}.${"b".repeat(20)}.example.com`;
  const cert = parseCert((await new LeafMinter(ca).leafFor(host)).certPem);
  assert.equal(cert.subject, "O=Halton Meter");
  assert.deepEqual(cert.getExtension(SubjectAlternativeNameExtension)!.names.toJSON(), [
    { type: "dns", value: host },
  ]);
});

Deno.test("leafFor() caches per name, ignoring case and a trailing dot", async () => {
  const minter = new LeafMinter(ca);
  const a = await minter.leafFor("api.anthropic.com");
  assert.equal(await minter.leafFor("API.Anthropic.com."), a);
  const b = await minter.leafFor("api.x.ai");
  assert.notEqual(b.keyPem, a.keyPem);
  assert.equal(minter.minted, 2);
});

Deno.test("leafFor() mints once for many concurrent requests for one name", async () => {
  const minter = new LeafMinter(ca);
  const leaves = await Promise.all(Array.from({ length: 20 }, () => minter.leafFor("chatgpt.com")));
  assert.equal(minter.minted, 1);
  assert.ok(leaves.every((l) => l === leaves[0]));
  const several = await Promise.all(
    ["a.example", "b.example", "a.example", "b.example"].map((n) => minter.leafFor(n)),
  );
  assert.equal(minter.minted, 3);
  assert.equal(several[0], several[2]);
});

Deno.test("leafFor() rejects names that are neither host names nor addresses", async () => {
  const minter = new LeafMinter(ca);
  for (
    const bad of [
      "",
      "exa mple.com",
      "*.example.com",
      "bad..dots",
      "-lead.example",
      "999.1.1.1",
      "x".repeat(64),
    ]
  ) {
    await assert.rejects(
      minter.leafFor(bad),
      (e: unknown) => e instanceof MeterError && e.message.includes(bad),
    );
  }
  assert.equal(minter.minted, 0);
});

Deno.test("leafFor() replaces a cached leaf as it nears expiry", async () => {
  let now = new Date("2026-05-01T00:00:00Z").getTime();
  const minter = new LeafMinter(ca, { now: () => new Date(now) });
  const first = await minter.leafFor("api.openai.com");
  now += 300 * DAY;
  assert.equal(await minter.leafFor("api.openai.com"), first);
  now += 70 * DAY;
  const second = await minter.leafFor("api.openai.com");
  assert.notEqual(second, first);
  assert.ok(parseCert(second.certPem).notAfter.getTime() > now + 300 * DAY);
});

Deno.test("leafFor() never makes a leaf outlive its CA", async () => {
  const shortCa = await freshCa(new Date(Date.now() - (3650 - 100) * DAY));
  const caEnd = parseCert(shortCa.certPem).notAfter.getTime();
  const cert = parseCert((await new LeafMinter(shortCa).leafFor("api.openai.com")).certPem);
  assert.equal(cert.notAfter.getTime(), Math.floor(caEnd / 1000) * 1000);
});

Deno.test("leafFor() with unusable CA material rejects with a MeterError and tries again next time", async () => {
  const minter = new LeafMinter({ certPem: ca.certPem, keyPem: "not a key" });
  await assert.rejects(minter.leafFor("api.openai.com"), MeterError);
  await assert.rejects(minter.leafFor("api.openai.com"), MeterError);
  assert.equal(minter.minted, 2, "a failed mint is not cached");
});

Deno.test("leafFor() writes dates past 2049 as GeneralizedTime that parsers read back exactly", async () => {
  const now = new Date("2049-11-01T00:00:00Z");
  const lateCa = await freshCa(now);
  const cert = parseCert(
    (await new LeafMinter(lateCa, { now: () => now }).leafFor("api.openai.com")).certPem,
  );
  assert.equal(cert.notBefore.toISOString(), "2049-10-31T00:00:00.000Z");
  assert.equal(cert.notAfter.toISOString(), "2050-12-02T00:00:00.000Z");
});
