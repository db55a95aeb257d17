import assert from "node:assert/strict";
import { compareVersions } from "../../core/version.ts";

Deno.test("compareVersions() orders major.minor.patch numerically and ignores suffixes", () => {
  assert.ok(compareVersions("0.1.0", "0.2.0") < 0);
  assert.ok(compareVersions("0.10.0", "0.9.9") > 0);
  assert.equal(compareVersions("1.2.3", "1.2.3-rc.1"), 0);
  assert.ok(compareVersions("1.2", "1.2.1") < 0);
  assert.equal(compareVersions("2.0.0", "2"), 0);
});
