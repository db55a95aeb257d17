import assert from "node:assert/strict";
import { join } from "node:path";
import { Ajv } from "ajv";
import {
  homebrewFormula,
  parseSums,
  type ReleaseInfo,
  scoopManifest,
} from "../../../scripts/ship/manifests.ts";
import { channelsMain } from "../../../scripts/ship/channels.ts";
import { binaryName, TARGETS } from "../../../scripts/build.ts";

/** A distinct made-up digest per file, so a swapped URL and hash would show. */
function digest(i: number): string {
  return (i + 1).toString(16).padStart(2, "0").repeat(32);
}

const SUMS_TEXT = TARGETS.map((t, i) => `${digest(i)}  ${binaryName(t)}`).join("\n") + "\n";

const RELEASE: ReleaseInfo = {
  version: "0.2.0",
  baseUrl: "https://github.com/haltonlabs/halton-meter/releases/download",
  homepage: "https://github.com/haltonlabs/halton-meter",
  sums: parseSums(SUMS_TEXT),
};

async function which(tool: string): Promise<boolean> {
  try {
    return (await new Deno.Command(tool, { args: ["--version"], stdout: "null", stderr: "null" }).output())
      .success;
  } catch {
    return false;
  }
}

Deno.test("parseSums reads sha256sum's output and names the bad line", () => {
  const sums = parseSums(`${"AB".repeat(32)}  a\n${"cd".repeat(32)} *b\n`);
  assert.deepEqual([...sums], [["a", "ab".repeat(32)], ["b", "cd".repeat(32)]]);
  assert.throws(() => parseSums("nope  a\n"), /line 1 is not/);
});

Deno.test("the formula pairs each macOS and Linux binary's URL with its own checksum and says to run init", () => {
  const rb = homebrewFormula(RELEASE);
  for (const [i, t] of TARGETS.entries()) {
    if (t.includes("windows")) continue;
    const url = `${RELEASE.baseUrl}/v0.2.0/${binaryName(t)}`;
    assert.ok(rb.includes(`url "${url}"\n      sha256 "${digest(i)}"`), `${t} with its checksum`);
  }
  assert.match(rb, /version "0\.2\.0"/);
  assert.match(rb, /def caveats[\s\S]*halton-meter init/);
  assert.match(rb, /"halton-meter\.channel"\)\.write "\{\\"channel\\":\\"homebrew\\"\}/);
});

Deno.test("the formula refuses checksums that miss a target, and a bad version", () => {
  const partial = new Map([...RELEASE.sums].filter(([name]) => !name.includes("aarch64-apple")));
  assert.throws(() => homebrewFormula({ ...RELEASE, sums: partial }), /no halton-meter-aarch64-apple-darwin/);
  assert.throws(() => homebrewFormula({ ...RELEASE, version: "latest" }), /not a version/);
});

const hasRuby = await which("ruby");
Deno.test({
  name: `the formula is valid Ruby (ruby -c)${
    hasRuby ? "" : " [skipped: ruby is not installed; .ci/run installs it]"
  }`,
  ignore: !hasRuby,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const file = join(dir, "halton-meter.rb");
      await Deno.writeTextFile(file, homebrewFormula(RELEASE));
      const r = await new Deno.Command("ruby", { args: ["-c", file], stdout: "piped", stderr: "piped" })
        .output();
      assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
      assert.match(new TextDecoder().decode(r.stdout), /Syntax OK/);
      // A broken formula is caught: the check is not a formality.
      await Deno.writeTextFile(file, homebrewFormula(RELEASE).replace(/\nend\n$/, "\n"));
      assert.notEqual(
        (await new Deno.Command("ruby", { args: ["-c", file], stderr: "null" }).output()).code,
        0,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("the Scoop manifest matches the manifest schema, with the Windows checksum and the init note", async () => {
  const schema = JSON.parse(
    await Deno.readTextFile(new URL("../../fixtures/scoop/manifest.schema.json", import.meta.url)),
  );
  const validate = new Ajv({ allErrors: true }).compile(schema);
  const manifest = JSON.parse(scoopManifest(RELEASE));
  const valid = validate(manifest as unknown);
  assert.ok(valid, JSON.stringify(validate.errors, null, 2));
  const win = TARGETS.indexOf("x86_64-pc-windows-msvc");
  assert.equal(manifest.architecture["64bit"].hash, digest(win));
  assert.equal(
    manifest.architecture["64bit"].url,
    `${RELEASE.baseUrl}/v0.2.0/halton-meter-x86_64-pc-windows-msvc.exe#/halton-meter.exe`,
  );
  assert.match(manifest.notes.join("\n"), /halton-meter init/);
  assert.match(manifest.post_install[0], /halton-meter\.channel.*"channel":"scoop"/);
  // The schema does catch a broken manifest.
  assert.equal(
    validate({ ...manifest, architecture: { "64bit": { url: manifest.homepage, hash: "x" } } }),
    false,
  );
});

Deno.test("deno task channels writes both files from a SHA256SUMS file; a missing one exits 1 with a hint", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "SHA256SUMS"), SUMS_TEXT);
    const code = channelsMain(["--version", "v0.2.0", "--out", dir, "--base-url", `${RELEASE.baseUrl}/`]);
    assert.equal(code, 0);
    assert.equal(await Deno.readTextFile(join(dir, "halton-meter.rb")), homebrewFormula(RELEASE));
    assert.equal(await Deno.readTextFile(join(dir, "halton-meter.json")), scoopManifest(RELEASE));
    assert.equal(channelsMain(["--out", join(dir, "nowhere")]), 1);
    assert.equal(channelsMain(["--bogus"]), 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
