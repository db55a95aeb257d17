import assert from "node:assert/strict";
import { MeterError } from "../../core/errors.ts";
import { resolvePaths } from "../../core/paths.ts";

Deno.test("resolvePaths() puts everything under ~/.halton-meter and the CA in ~/.mitmproxy by default", () => {
  const p = resolvePaths({ HOME: "/home/ada" }, "linux");
  assert.equal(p.home, "/home/ada/.halton-meter");
  assert.equal(p.userHome, "/home/ada");
  assert.equal(p.db, "/home/ada/.halton-meter/db.sqlite");
  assert.equal(p.config, "/home/ada/.halton-meter/config.toml");
  assert.equal(p.effectivePorts, "/home/ada/.halton-meter/effective-ports.json");
  assert.equal(p.systemState, "/home/ada/.halton-meter/system_state.json");
  assert.equal(p.installMode, "/home/ada/.halton-meter/install-mode");
  assert.equal(p.logs, "/home/ada/.halton-meter/logs");
  assert.equal(p.caBundle, "/home/ada/.halton-meter/ca-bundle.pem");
  // The original's CA paths, so a user switching over keeps the CA their trust stores already hold.
  assert.equal(p.caDir, "/home/ada/.mitmproxy");
  assert.equal(p.caKeyAndCert, "/home/ada/.mitmproxy/mitmproxy-ca.pem");
  assert.equal(p.caCert, "/home/ada/.mitmproxy/mitmproxy-ca-cert.pem");
});

Deno.test("resolvePaths() moves the home and the CA with HALTON_METER_HOME, away from the real home", () => {
  const p = resolvePaths({ HOME: "/home/ada", HALTON_METER_HOME: "/tmp/t1" }, "darwin");
  assert.equal(p.home, "/tmp/t1");
  assert.equal(p.db, "/tmp/t1/db.sqlite");
  assert.equal(p.caDir, "/tmp/t1/.mitmproxy");
  assert.equal(p.caCert, "/tmp/t1/.mitmproxy/mitmproxy-ca-cert.pem");
  assert.equal(p.userHome, "/home/ada");
});

Deno.test("resolvePaths() takes the CA folder from HALTON_METER_CA_DIR when set", () => {
  const p = resolvePaths(
    { HOME: "/home/ada", HALTON_METER_HOME: "/tmp/t1", HALTON_METER_CA_DIR: "/srv/ca" },
    "linux",
  );
  assert.equal(p.caDir, "/srv/ca");
  assert.equal(p.caKeyAndCert, "/srv/ca/mitmproxy-ca.pem");
  assert.equal(resolvePaths({ HOME: "/home/ada", HALTON_METER_CA_DIR: "/srv/ca" }, "linux").caDir, "/srv/ca");
});

Deno.test("resolvePaths() works without HOME when HALTON_METER_HOME is set", () => {
  const p = resolvePaths({ HALTON_METER_HOME: "/var/lib/meter" }, "linux");
  assert.equal(p.home, "/var/lib/meter");
  assert.equal(p.userHome, "/var/lib/meter");
});

Deno.test("resolvePaths() on Windows uses USERPROFILE before HOME, with backslashes", () => {
  const p = resolvePaths({ USERPROFILE: "C:\\Users\\ada", HOME: "/c/Users/other" }, "windows");
  assert.equal(p.home, "C:\\Users\\ada\\.halton-meter");
  assert.equal(p.db, "C:\\Users\\ada\\.halton-meter\\db.sqlite");
  assert.equal(p.caCert, "C:\\Users\\ada\\.mitmproxy\\mitmproxy-ca-cert.pem");
  assert.equal(resolvePaths({ HOME: "C:\\Users\\bob" }, "windows").home, "C:\\Users\\bob\\.halton-meter");
});

Deno.test("resolvePaths() without any home says which variable to set, as a MeterError", () => {
  assert.throws(() => resolvePaths({}, "linux"), (e) => {
    assert.ok(e instanceof MeterError);
    assert.match(e.message, /HOME is not set/);
    assert.match(e.hint ?? "", /HALTON_METER_HOME/);
    return true;
  });
  assert.throws(() => resolvePaths({ USERPROFILE: "" }, "windows"), /USERPROFILE is not set/);
});
