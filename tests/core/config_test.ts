import assert from "node:assert/strict";
import { join } from "node:path";
import { defaultConfig, findLine, loadConfig, parseConfig } from "../../core/config.ts";
import { ConfigError } from "../../core/errors.ts";
import { tempHome } from "../helpers/home.ts";

const FILE = "/home/me/.halton-meter/config.toml";

function configError(text: string): ConfigError {
  try {
    parseConfig(text, FILE);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${e}`);
    return e;
  }
  assert.fail("parseConfig accepted a bad config");
}

Deno.test("parseConfig() of an empty file gives every default and pins nothing", () => {
  const loaded = parseConfig("", FILE);
  assert.deepEqual(loaded.config, defaultConfig());
  assert.equal(loaded.config.edge.port, 8081);
  assert.equal(loaded.config.daemon.intercept_port, 8090);
  assert.equal(loaded.config.daemon.api_port, 8765);
  assert.equal(loaded.config.tagging.default_project, "misc");
  assert.deepEqual(loaded.warnings, []);
  assert.equal(loaded.explicit.size, 0);
});

Deno.test("loadConfig() of a missing file gives the defaults", async () => {
  await using home = await tempHome();
  const loaded = loadConfig(join(home.dir, "nope.toml"));
  assert.deepEqual(loaded.config, defaultConfig());
});

Deno.test("loadConfig() reads the values a user set and keeps the other defaults", async () => {
  await using home = await tempHome();
  const file = join(home.dir, "config.toml");
  await Deno.writeTextFile(
    file,
    `[edge]\nport = 9081\n\n[tagging]\ndefault_project = "scratch"\n\n[logging]\nlevel = "debug"\n`,
  );
  const { config } = loadConfig(file);
  assert.equal(config.edge.port, 9081);
  assert.equal(config.tagging.default_project, "scratch");
  assert.equal(config.logging.level, "debug");
  assert.equal(config.daemon.api_port, 8765);
});

Deno.test("parseConfig() records the keys a user pinned, so a taken pinned port can be an error", () => {
  const { explicit } = parseConfig(
    `[edge]\nport = 8081\n[daemon]\napi_port = 9000\n[hosts]\n"api.groq.com" = "openai"\n`,
    FILE,
  );
  assert.deepEqual([...explicit].sort(), ["daemon.api_port", "edge.port", "hosts"]);
});

Deno.test("parseConfig() warns about an unknown key with the file and its line, and goes on", () => {
  const loaded = parseConfig(`[edge]\nport = 8082\n\n[daemon]\napi_port = 9000\nflush_ms = 5\n`, FILE);
  assert.equal(loaded.config.edge.port, 8082);
  assert.deepEqual(loaded.warnings, [`${FILE}:6: unknown key daemon.flush_ms is ignored`]);
});

Deno.test("parseConfig() warns about an unknown section with its line", () => {
  const loaded = parseConfig(`[edge]\nport = 8082\n\n[dashbord]\ntheme = "dark"\n`, FILE);
  assert.deepEqual(loaded.warnings, [`${FILE}:4: unknown section [dashbord] is ignored`]);
});

Deno.test("parseConfig() rejects a bad value naming file, line, key and what was expected", () => {
  const e = configError(`# ports\n[edge]\nport = 70000\n`);
  assert.equal(e.file, FILE);
  assert.equal(e.line, 3);
  assert.equal(e.key, "edge.port");
  assert.match(e.message, /^\/home\/me\/\.halton-meter\/config\.toml \(line 3, key edge\.port\): /);
  assert.match(e.message, /expected a port number from 1 to 65535, found 70000/);
  assert.ok(e.hint);
});

Deno.test("parseConfig() rejects a value of the wrong type, quoting what it found", () => {
  const e = configError(`[daemon]\nintercept_port = "8090"\n`);
  assert.equal(e.key, "daemon.intercept_port");
  assert.equal(e.line, 2);
  assert.match(e.message, /found "8090"/);
});

Deno.test("parseConfig() rejects a bad project slug and an unknown log level", () => {
  assert.match(configError(`[tagging]\ndefault_project = "My Project"\n`).message, /project slug/);
  const level = configError(`[logging]\nlevel = "verbose"\n`);
  assert.equal(level.key, "logging.level");
  assert.match(level.message, /one of "debug", "info", "warn", "error"/);
});

Deno.test("parseConfig() rejects a price override without a model or with a negative price", () => {
  const missing = configError(`[[pricing.override]]\nprovider = "openai"\ninput = 1\n`);
  assert.equal(missing.key, "pricing.override");
  assert.equal(missing.line, 1);
  const negative = configError(`[[pricing.override]]\nprovider = "openai"\nmodel = "gpt-5"\ninput = -1\n`);
  assert.match(negative.message, /input as a number of USD per million tokens/);
});

Deno.test("parseConfig() accepts price overrides and extra hosts", () => {
  const { config } = parseConfig(
    `[[pricing.override]]\nprovider = "openai"\nmodel = "gpt-5"\ninput = 1.5\noutput = 12\n\n` +
      `[hosts]\n"api.groq.com" = "openai"\n`,
    FILE,
  );
  assert.deepEqual(config.pricing.override, [{ provider: "openai", model: "gpt-5", input: 1.5, output: 12 }]);
  assert.deepEqual(config.hosts, { "api.groq.com": "openai" });
});

Deno.test("parseConfig() rejects a host with an unknown API shape", () => {
  const e = configError(`\n[hosts]\n"api.groq.com" = "groq"\n`);
  assert.equal(e.key, "hosts");
  assert.equal(e.line, 2);
  assert.match(e.message, /"openai", "anthropic", "gemini"/);
});

Deno.test("parseConfig() reports a TOML syntax error with the file and line", () => {
  const e = configError(`[edge]\nport = 8081\n[daemon]\napi_port = = 3\n`);
  assert.equal(e.line, 4);
  assert.match(e.message, /config\.toml \(line 4\): not valid TOML: /);
  assert.doesNotMatch(e.message, /\n/);
});

Deno.test("findLine() finds keys in tables, dotted keys and table headers", () => {
  const text = `edge.port = 1\n\n[daemon]\n  api_port = 2\n[upstream.resolve]\n"a.com" = "b"\n`;
  assert.equal(findLine(text, "edge", "port"), 1);
  assert.equal(findLine(text, "daemon", "api_port"), 4);
  assert.equal(findLine(text, "daemon"), 3);
  assert.equal(findLine(text, "upstream", "resolve"), 5);
});

Deno.test("parseConfig() warns about an unknown top-level key with its line", () => {
  const loaded = parseConfig(`# mine\nverbose = true\n[edge]\nport = 8082\n`, FILE);
  assert.deepEqual(loaded.warnings, [`${FILE}:2: unknown key verbose is ignored`]);
});

Deno.test("parseConfig() rejects a known section given as a plain value, with its line", () => {
  const e = configError(`\nedge = 5\n`);
  assert.equal(e.key, "edge");
  assert.equal(e.line, 2);
  assert.match(e.message, /expected \[edge\] to be a table/);
});

Deno.test("the original's [daemon] edge_port and internal_port are read as edge.port and daemon.intercept_port", () => {
  const r = parseConfig("[daemon]\nedge_port = 18081\ninternal_port = 18090\napi_port = 18765\n", "c.toml");
  assert.equal(r.config.edge.port, 18081);
  assert.equal(r.config.daemon.intercept_port, 18090);
  assert.equal(r.config.daemon.api_port, 18765);
  assert.ok(r.explicit.has("edge.port") && r.explicit.has("daemon.intercept_port"), "they pin the ports");
  assert.deepEqual(r.warnings, [
    "c.toml:2: daemon.edge_port (the original Halton Meter's name) is used as edge.port = 18081",
    "c.toml:3: daemon.internal_port (the original Halton Meter's name) is used as daemon.intercept_port = 18090",
  ]);
});

Deno.test("this project's port names win over the original's, with a warning; a bad original value is not fatal", () => {
  const r = parseConfig(
    '[edge]\nport = 9001\n\n[daemon]\nedge_port = 18081\ninternal_port = "x"\n\n[proxy]\nmode = "regular"\n',
    "c.toml",
  );
  assert.equal(r.config.edge.port, 9001);
  assert.equal(r.config.daemon.intercept_port, 8090);
  assert.deepEqual(r.warnings, [
    "c.toml:6: daemon.internal_port is ignored: expected a port number from 1 to 65535",
    "c.toml:8: unknown section [proxy] is ignored",
    "c.toml:5: daemon.edge_port (the original Halton Meter's name) is ignored: edge.port = 9001 is set too and wins",
  ]);
});
