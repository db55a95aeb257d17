import assert from "node:assert/strict";
import { findPythons, isPatched, patchBundle, unpatchBundle } from "../../setup/certifi.ts";

const CA = "-----BEGIN CERTIFICATE-----\nQ0E=\n-----END CERTIFICATE-----\n";
const OTHER = "-----BEGIN CERTIFICATE-----\nT1RIRVI=\n-----END CERTIFICATE-----\n";

Deno.test("patchBundle() appends the CA once; unpatchBundle() gives back the original bytes", () => {
  for (const original of ["# roots\nAAA\n", "# no final newline", ""]) {
    const once = patchBundle(original, CA);
    assert.equal(patchBundle(once, CA), once, "patching twice changes nothing");
    assert.ok(isPatched(once, CA));
    assert.equal(unpatchBundle(once), original);
  }
});

Deno.test("patchBundle() with a new CA replaces the old block rather than adding a second", () => {
  const renewed = patchBundle(patchBundle("# roots\n", OTHER), CA);
  assert.ok(isPatched(renewed, CA));
  assert.ok(!renewed.includes("T1RIRVI="));
  assert.equal(unpatchBundle(renewed), "# roots\n");
});

Deno.test("findPythons() finds python3 and python on each PATH folder once, first found first", () => {
  const present = new Set(["/venv/bin/python3", "/venv/bin/python", "/usr/bin/python3"]);
  const real = (p: string) => p === "/venv/bin/python" ? "/venv/bin/python3" : p;
  assert.deepEqual(findPythons("/venv/bin::/usr/bin:/nowhere", "linux", (p) => present.has(p), real), [
    "/venv/bin/python3",
    "/usr/bin/python3",
  ]);
  assert.deepEqual(
    findPythons("C:\\Python312;C:\\Windows", "windows", (p) => p === "C:\\Python312\\python.exe"),
    ["C:\\Python312\\python.exe"],
  );
});
