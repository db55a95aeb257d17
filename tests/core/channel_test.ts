import assert from "node:assert/strict";
import { CHANNEL_MARKER, channelOf, parseMarker } from "../../core/channel.ts";

function binary(execPath: string, markers: Record<string, string> = {}) {
  return channelOf({
    standalone: true,
    execPath,
    entry: "file:///$deno$/main.ts",
    readMarker: (p) => markers[p],
  });
}

Deno.test("a binary with the install script's marker beside it is from the install script", () => {
  const c = binary("/home/ann/.local/bin/halton-meter", {
    [`/home/ann/.local/bin/${CHANNEL_MARKER}`]: JSON.stringify({
      channel: "install-script",
      source: "https://releases.example/v0.2.0",
    }),
  });
  assert.equal(c.name, "install-script");
  assert.match(c.upgrade, /install script again \(from https:\/\/releases\.example\/v0\.2\.0\)/);
  assert.match(c.rollback, /HALTON_METER_VERSION=/);
  assert.equal(c.marker, `/home/ann/.local/bin/${CHANNEL_MARKER}`);
});

Deno.test("the fleet marker points at the rollout script's upgrade and rollback", () => {
  const c = binary("/opt/halton-meter/bin/halton-meter", {
    [`/opt/halton-meter/bin/${CHANNEL_MARKER}`]: '{"channel":"fleet"}',
  });
  assert.equal(c.name, "fleet");
  assert.match(c.rollback, /--rollback/);
});

Deno.test("Homebrew's Cellar and Scoop's apps folder are recognised without a marker", () => {
  assert.equal(binary("/opt/homebrew/Cellar/halton-meter/0.2.0/bin/halton-meter").name, "homebrew");
  assert.equal(
    binary("C:\\Users\\ann\\scoop\\apps\\halton-meter\\current\\halton-meter.exe").name,
    "scoop",
  );
  assert.match(binary("/opt/homebrew/Cellar/halton-meter/0.2.0/bin/halton-meter").upgrade, /brew upgrade/);
});

Deno.test("a bare binary is a download; a stray or broken marker never changes that", () => {
  assert.equal(binary("/usr/local/bin/halton-meter").name, "download");
  assert.equal(
    binary("/usr/local/bin/halton-meter", { [`/usr/local/bin/${CHANNEL_MARKER}`]: "not json" }).name,
    "download",
  );
  assert.equal(parseMarker('{"channel":"source"}'), undefined, "only installing channels write markers");
  assert.equal(parseMarker('{"channel":"fleet","source":3}')?.source, undefined);
});

Deno.test("from source or from a bundle, the entry module tells which", () => {
  const run = (entry: string) =>
    channelOf({ standalone: false, execPath: "/usr/bin/deno", entry, readMarker: () => undefined }).name;
  assert.equal(run("file:///src/halton/main.ts"), "source");
  assert.equal(run("file:///tmp/x/halton-meter.js"), "bundle");
});
