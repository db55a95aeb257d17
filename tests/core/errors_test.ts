import assert from "node:assert/strict";
import { ConfigError, ExitCode, MeterError, StoreError, UsageError } from "../../core/errors.ts";

Deno.test("errors carry the exit code of their kind and a hint", () => {
  assert.equal(new MeterError("x").exitCode, ExitCode.Failed);
  assert.equal(new MeterError("x", { exitCode: ExitCode.Unhealthy }).exitCode, 3);
  const usage = new UsageError("bad flag", "See --help.");
  assert.equal(usage.exitCode, 2);
  assert.equal(usage.hint, "See --help.");
  assert.ok(usage instanceof MeterError);
  assert.equal(new StoreError("locked", "Wait.").exitCode, 1);
});

Deno.test("ConfigError names the file, line and key in its message", () => {
  const e = new ConfigError("/h/config.toml", "expected a port", { line: 3, key: "edge.port" });
  assert.equal(e.message, "/h/config.toml (line 3, key edge.port): expected a port");
  assert.equal(new ConfigError("/h/config.toml", "cannot be read").message, "/h/config.toml: cannot be read");
  assert.match(e.hint ?? "", /never rewrites your config/);
});
