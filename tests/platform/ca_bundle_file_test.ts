import assert from "node:assert/strict";
import { join } from "node:path";
import { ensureCaBundle } from "../../platform/ca_bundle_file.ts";

const FAKE_CA = "-----BEGIN CERTIFICATE-----\nTUVURVI=\n-----END CERTIFICATE-----\n";
const ROOT_A = "-----BEGIN CERTIFICATE-----\nUk9PVEE=\n-----END CERTIFICATE-----\n";

Deno.test("ensureCaBundle() joins the system roots and our CA, and rebuilds only when needed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ca-bundle-file-" });
  const paths = { caBundle: join(dir, "out", "ca-bundle.pem"), caCert: join(dir, "ca.pem") };
  const system = join(dir, "system.pem");
  try {
    assert.equal(ensureCaBundle(paths, [system]), undefined, "no CA yet");
    await Deno.writeTextFile(paths.caCert, FAKE_CA);
    assert.equal(ensureCaBundle(paths, [join(dir, "missing.pem")]), undefined, "no system bundle");
    await Deno.writeTextFile(system, ROOT_A);
    assert.equal(ensureCaBundle(paths, [join(dir, "missing.pem"), system]), paths.caBundle);
    const built = await Deno.readTextFile(paths.caBundle);
    assert.ok(built.startsWith(ROOT_A));
    assert.ok(built.endsWith(FAKE_CA));
    await Deno.writeTextFile(paths.caBundle, built + "# kept\n");
    ensureCaBundle(paths, [system]);
    assert.match(await Deno.readTextFile(paths.caBundle), /# kept/, "an up-to-date bundle is left alone");
    const newCa = FAKE_CA.replace("TUVURVI=", "TkVXQ0E=");
    await Deno.writeTextFile(paths.caCert, newCa);
    ensureCaBundle(paths, [system]);
    const rebuilt = await Deno.readTextFile(paths.caBundle);
    assert.ok(rebuilt.endsWith(newCa));
    assert.doesNotMatch(rebuilt, /TUVURVI=|# kept/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
