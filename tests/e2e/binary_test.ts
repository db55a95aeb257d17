/**
 * The compiled binary's own smoke test, run by the release workflow on each OS with `HALTON_METER_BIN` set to
 * the binary it just built (`deno compile` cannot run here: its runtimes cannot be downloaded).
 */
import { dirname, resolve } from "node:path";
import { smokeTest } from "../helpers/smoke.ts";

const given = Deno.env.get("HALTON_METER_BIN");
const bin = given ? resolve(given) : undefined;

Deno.test({
  name: `the compiled binary passes the smoke test${
    bin ? "" : " [skipped: set HALTON_METER_BIN to a compiled binary]"
  }`,
  ignore: !bin,
  fn: () => smokeTest({ argv: [bin!], cwd: dirname(bin!), self: bin!, channel: "download" }),
});
