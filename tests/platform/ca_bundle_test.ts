import assert from "node:assert/strict";
import { join } from "node:path";
import { MeterError } from "../../core/errors.ts";
import { BUNDLE_LABEL, caBundle, certSha1, pemCertificates } from "../../platform/ca_bundle.ts";
import { exec, have, makeCa } from "./_helpers.ts";

const noOpenssl = !have("openssl");

Deno.test({
  name: "caBundle() puts our CA after the system roots, never the key, and openssl verifies both against it",
  ignore: noOpenssl,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const root = await makeCa(dir, "Some System Root");
      const ours = await makeCa(dir, "Halton Meter CA");
      const bundle = caBundle(root.cert, ours.keyAndCert);
      assert.ok(bundle.startsWith(root.cert.trim()));
      assert.ok(bundle.includes(`${BUNDLE_LABEL}\n-----BEGIN CERTIFICATE-----`));
      assert.equal(bundle.includes("PRIVATE KEY"), false);
      const file = join(dir, "ca-bundle.pem");
      await Deno.writeTextFile(file, bundle);
      for (const name of ["Some System Root", "Halton Meter CA"]) {
        const v = await exec("openssl", ["verify", "-CAfile", file, join(dir, `${name}.crt`)]);
        assert.equal(v.code, 0, v.stdout + v.stderr);
      }
      // Built again from a bundle that already holds our CA: nothing is added twice.
      assert.equal(pemCertificates(caBundle(bundle, ours.cert)).length, 2);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "certSha1() matches openssl's SHA-1 fingerprint, which keychains and certutil use",
  ignore: noOpenssl,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const ca = await makeCa(dir, "Halton Meter CA");
      assert.equal(await certSha1(ca.keyAndCert), ca.sha1);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("caBundle() refuses to write a bundle without system roots or without our CA", () => {
  const cert = "-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----\n";
  assert.throws(() => caBundle("", cert), (e) => e instanceof MeterError && /system's root/.test(e.message));
  assert.throws(
    () => caBundle(cert, "-----BEGIN PRIVATE KEY-----\nQUJD\n-----END PRIVATE KEY-----\n"),
    MeterError,
  );
});

Deno.test("pemCertificates() normalises CRLF line ends and stray spaces", () => {
  assert.deepEqual(
    pemCertificates(
      "junk\r\n-----BEGIN CERTIFICATE-----\r\n  QUJD \r\nREVG\r\n-----END CERTIFICATE-----\r\n",
    ),
    [
      "-----BEGIN CERTIFICATE-----\nQUJD\nREVG\n-----END CERTIFICATE-----\n",
    ],
  );
});
