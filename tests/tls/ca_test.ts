import assert from "node:assert/strict";
import "reflect-metadata";
import {
  AuthorityKeyIdentifierExtension,
  BasicConstraintsExtension,
  KeyUsageFlags,
  KeyUsagesExtension,
  SubjectKeyIdentifierExtension,
} from "@peculiar/x509";
import { loadOrCreateCa } from "../../tls/ca.ts";
import { LeafMinter } from "../../tls/leaf.ts";
import { MeterError } from "../../core/errors.ts";
import { caPaths, haveTool, parseCert, runTool, writeOpensslCa } from "./_helpers.ts";

const isWindows = Deno.build.os === "windows";
const openssl = await haveTool("openssl", ["version"]);
if (!openssl) console.warn("ca_test: openssl is not installed; the original-style CA tests are skipped");

async function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "halton-tls-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("loadOrCreateCa() creates a CA: key and cert file 0600 in a 0700 folder, cert file 0644", async () => {
  await withTemp(async (root) => {
    const paths = caPaths(root);
    const now = new Date("2026-03-01T12:00:00Z");
    const { ca, created } = await loadOrCreateCa(paths, { now });
    assert.equal(created, true);
    const both = await Deno.readTextFile(paths.caKeyAndCert);
    assert.match(both, /^-----BEGIN PRIVATE KEY-----\n[\s\S]+-----BEGIN CERTIFICATE-----\n/);
    assert.equal(both, ca.keyPem + ca.certPem);
    assert.equal(await Deno.readTextFile(paths.caCert), ca.certPem);
    if (!isWindows) {
      assert.equal((await Deno.stat(paths.caDir)).mode! & 0o777, 0o700);
      assert.equal((await Deno.stat(paths.caKeyAndCert)).mode! & 0o777, 0o600);
      assert.equal((await Deno.stat(paths.caCert)).mode! & 0o777, 0o644);
    }
    assert.deepEqual((await Array.fromAsync(Deno.readDir(paths.caDir))).map((e) => e.name).sort(), [
      "mitmproxy-ca-cert.pem",
      "mitmproxy-ca.pem",
    ]);
  });
});

Deno.test("loadOrCreateCa() makes a P-256 CA with the profile strict verifiers demand", async () => {
  await withTemp(async (root) => {
    const now = new Date("2026-03-01T12:00:00Z");
    const { ca } = await loadOrCreateCa(caPaths(root), { now });
    const cert = parseCert(ca.certPem);
    assert.equal(cert.subject, "O=Halton Meter, CN=Halton Meter CA");
    assert.equal(cert.issuer, cert.subject);
    assert.deepEqual(cert.publicKey.algorithm, { name: "ECDSA", namedCurve: "P-256" });
    assert.equal(cert.notBefore.getTime(), now.getTime() - 60_000);
    assert.equal(cert.notAfter.toISOString(), "2036-03-01T11:59:00.000Z");
    assert.ok(/^[0-7]/.test(cert.serialNumber) && !/^0+$/.test(cert.serialNumber), cert.serialNumber);
    const bc = cert.getExtension(BasicConstraintsExtension)!;
    assert.deepEqual([bc.critical, bc.ca, bc.pathLength], [true, true, 0]);
    const ku = cert.getExtension(KeyUsagesExtension)!;
    assert.deepEqual([ku.critical, ku.usages], [true, KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign]);
    const ski = cert.getExtension(SubjectKeyIdentifierExtension)!;
    assert.equal(cert.getExtension(AuthorityKeyIdentifierExtension)!.keyId, ski.keyId);
    assert.ok(await cert.verify({ signatureOnly: true }));
  });
});

Deno.test("loadOrCreateCa() makes a different CA in each new folder", async () => {
  await withTemp(async (root) => {
    const a = await loadOrCreateCa(caPaths(`${root}/a`));
    const b = await loadOrCreateCa(caPaths(`${root}/b`));
    assert.notEqual(a.ca.keyPem, b.ca.keyPem);
    assert.notEqual(parseCert(a.ca.certPem).serialNumber, parseCert(b.ca.certPem).serialNumber);
  });
});

Deno.test("loadOrCreateCa() reuses its own CA on the next call, files byte-identical", async () => {
  await withTemp(async (root) => {
    const paths = caPaths(root);
    const first = await loadOrCreateCa(paths);
    const bytes = await Deno.readFile(paths.caKeyAndCert);
    const certBytes = await Deno.readFile(paths.caCert);
    const mtime = (await Deno.stat(paths.caKeyAndCert)).mtime;
    const second = await loadOrCreateCa(paths);
    assert.equal(second.created, false);
    assert.deepEqual(second.ca, first.ca);
    assert.deepEqual(await Deno.readFile(paths.caKeyAndCert), bytes);
    assert.deepEqual(await Deno.readFile(paths.caCert), certBytes);
    assert.deepEqual((await Deno.stat(paths.caKeyAndCert)).mtime, mtime);
  });
});

Deno.test("loadOrCreateCa() called twice at once ends with one CA shared by both", async () => {
  await withTemp(async (root) => {
    const paths = caPaths(root);
    const [a, b] = await Promise.all([loadOrCreateCa(paths), loadOrCreateCa(paths)]);
    assert.deepEqual(a.ca, b.ca);
    assert.deepEqual([a.created, b.created].sort(), [false, true]);
    assert.equal(await Deno.readTextFile(paths.caKeyAndCert), a.ca.keyPem + a.ca.certPem);
    assert.equal(await Deno.readTextFile(paths.caCert), a.ca.certPem);
    const left = (await Array.fromAsync(Deno.readDir(paths.caDir))).map((e) => e.name);
    assert.equal(left.length, 2, `no temp files left: ${left}`);
  });
});

for (
  const [keyForm, certFirst, label] of [
    ["pkcs1", false, "RSA PKCS#1 key then cert (what mitmproxy writes)"],
    ["pkcs8", true, "cert then RSA PKCS#8 key"],
    ["sec1", false, "EC SEC1 key then cert"],
  ] as const
) {
  Deno.test({
    name: `loadOrCreateCa() reuses an original-style CA file: ${label}, never rewriting it`,
    ignore: !openssl,
  }, async () => {
    await withTemp(async (root) => {
      const paths = caPaths(root);
      await writeOpensslCa(paths.caKeyAndCert, { keyForm, certFirst });
      const original = await Deno.readFile(paths.caKeyAndCert);
      const { ca, created } = await loadOrCreateCa(paths);
      assert.equal(created, false);
      assert.deepEqual(await Deno.readFile(paths.caKeyAndCert), original);
      assert.equal(parseCert(ca.certPem).subject, "CN=mitmproxy, O=mitmproxy");
      assert.equal(await Deno.readTextFile(paths.caCert), ca.certPem, "the missing cert-only file is added");

      // The reused key signs leaves that OpenSSL's strict mode accepts under that CA.
      const leaf = await new LeafMinter(ca).leafFor("api.anthropic.com");
      await Deno.writeTextFile(`${root}/leaf.pem`, leaf.certPem);
      const verify = await runTool("openssl", [
        "verify",
        "-x509_strict",
        "-purpose",
        "sslserver",
        "-verify_hostname",
        "api.anthropic.com",
        "-CAfile",
        paths.caCert,
        `${root}/leaf.pem`,
      ], root); // deno-fmt-ignore
      assert.equal(verify?.code, 0, `${verify?.stderr}${verify?.stdout}`);
    });
  });
}

Deno.test("loadOrCreateCa() leaves an existing cert-only file alone when reusing", async () => {
  await withTemp(async (root) => {
    const paths = caPaths(root);
    await loadOrCreateCa(paths);
    await Deno.writeTextFile(paths.caCert, "kept as the user left it\n");
    await loadOrCreateCa(paths);
    assert.equal(await Deno.readTextFile(paths.caCert), "kept as the user left it\n");
  });
});

/** Expects `loadOrCreateCa` to refuse the CA file holding `text`, naming it, and leave it as it was. */
async function assertRefused(text: string, reason: RegExp, options: { now?: Date } = {}): Promise<void> {
  await withTemp(async (root) => {
    const paths = caPaths(root);
    await Deno.mkdir(paths.caDir, { recursive: true });
    await Deno.writeTextFile(paths.caKeyAndCert, text);
    await assert.rejects(loadOrCreateCa(paths, options), (e: unknown) => {
      assert.ok(e instanceof MeterError, String(e));
      assert.ok(e.message.includes(paths.caKeyAndCert), e.message);
      assert.match(e.message, reason);
      assert.match(e.hint ?? "", /Move it aside/);
      return true;
    });
    assert.equal(await Deno.readTextFile(paths.caKeyAndCert), text);
    await assert.rejects(Deno.stat(paths.caCert), Deno.errors.NotFound);
  });
}

Deno.test("loadOrCreateCa() refuses a CA file that is not PEM, and leaves it untouched", async () => {
  await assertRefused("this is not a certificate\n", /no CERTIFICATE block/);
  await assertRefused("", /no CERTIFICATE block/);
});

Deno.test("loadOrCreateCa() refuses a CA file whose blocks are damaged", async () => {
  await withTemp(async (root) => {
    const good = await loadOrCreateCa(caPaths(root));
    await assertRefused(good.ca.certPem, /no unencrypted PRIVATE KEY block/);
    await assertRefused(good.ca.keyPem, /no CERTIFICATE block/);
    const garbled = good.ca.keyPem + good.ca.certPem.replace(/\n[A-Za-z0-9+/]{64}\n/, "\nMIIB!!!\n");
    await assertRefused(garbled, /not valid base64|not an X\.509 certificate/);
    const truncated = good.ca.keyPem +
      "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIQ\n-----END CERTIFICATE-----\n";
    await assertRefused(truncated, /not an X\.509 certificate/);
  });
});

Deno.test("loadOrCreateCa() refuses a key that belongs to another certificate", async () => {
  await withTemp(async (root) => {
    const a = await loadOrCreateCa(caPaths(`${root}/a`));
    const b = await loadOrCreateCa(caPaths(`${root}/b`));
    await assertRefused(a.ca.keyPem + b.ca.certPem, /does not belong to its certificate/);
  });
});

Deno.test("loadOrCreateCa() refuses a passphrase-protected key", async () => {
  await withTemp(async (root) => {
    const good = await loadOrCreateCa(caPaths(root));
    const encrypted = good.ca.keyPem.replaceAll("PRIVATE KEY", "ENCRYPTED PRIVATE KEY");
    await assertRefused(encrypted + good.ca.certPem, /encrypted with a passphrase/);
  });
});

Deno.test("loadOrCreateCa() refuses an expired CA rather than minting leaves nobody trusts", async () => {
  await withTemp(async (root) => {
    const old = await loadOrCreateCa(caPaths(root), { now: new Date("2010-01-01T00:00:00Z") });
    await assertRefused(old.ca.keyPem + old.ca.certPem, /expired on 2019-12-31/, {
      now: new Date("2026-01-01T00:00:00Z"),
    });
  });
});

Deno.test("loadOrCreateCa() reports a CA folder it cannot use as a MeterError naming it", async () => {
  await withTemp(async (root) => {
    await Deno.writeTextFile(`${root}/blocker`, "a file where a folder should be\n");
    const paths = caPaths(`${root}/blocker`);
    await assert.rejects(loadOrCreateCa(paths), (e: unknown) => {
      assert.ok(e instanceof MeterError, String(e));
      assert.ok(e.message.includes(paths.caDir), e.message);
      assert.match(e.hint ?? "", /HALTON_METER_CA_DIR/);
      return true;
    });
  });
});
