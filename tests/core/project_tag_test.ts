import assert from "node:assert/strict";
import { projectFromProxyAuthorization } from "../../core/project_tag.ts";
import { MAX_SLUG_LENGTH } from "../../core/slug.ts";

Deno.test("projectFromProxyAuthorization() takes the user of Basic credentials as the project slug", () => {
  assert.equal(projectFromProxyAuthorization(`Basic ${btoa("acme-app:")}`), "acme-app");
  assert.equal(projectFromProxyAuthorization(`basic  ${btoa("team/svc_1:ignored:password")}`), "team/svc_1");
});

Deno.test("projectFromProxyAuthorization() ignores missing, malformed and non-slug credentials", () => {
  for (
    const value of [
      undefined,
      "",
      `Bearer ${btoa("acme:")}`,
      "Basic !!!notbase64",
      `Basic ${btoa("no-colon")}`,
      `Basic ${btoa(":")}`,
      `Basic ${btoa("Upper:")}`,
      `Basic ${btoa("has space:")}`,
      `Basic ${btoa("bad\r\nx-halton-project: evil:")}`,
      `Basic ${btoa(`${"a".repeat(MAX_SLUG_LENGTH + 1)}:`)}`,
    ]
  ) {
    assert.equal(projectFromProxyAuthorization(value), undefined, String(value));
  }
});

Deno.test("projectFromProxyAuthorization() decodes a percent-encoded user, as `run` writes slugs with : and /", () => {
  assert.equal(projectFromProxyAuthorization(`Basic ${btoa("docker%3Ateam%2Fapi:")}`), "docker:team/api");
});

Deno.test("projectFromProxyAuthorization() reads the project whatever the password: `run`'s `demo:x@` and the old `demo:@`", () => {
  assert.equal(projectFromProxyAuthorization(`Basic ${btoa("demo:x")}`), "demo");
  assert.equal(projectFromProxyAuthorization(`Basic ${btoa("demo:")}`), "demo");
});

Deno.test("projectFromProxyAuthorization() keeps a slug's colon that a client decoded before sending `run`'s URL", () => {
  // `run --project team:app` writes `team%3Aapp:x@`; curl, Python and Node send `team:app:x`.
  assert.equal(projectFromProxyAuthorization(`Basic ${btoa("team:app:x")}`), "team:app");
  assert.equal(projectFromProxyAuthorization(`Basic ${btoa("docker:team/api:x")}`), "docker:team/api");
  // Any other password still ends the user-id at the first colon.
  assert.equal(projectFromProxyAuthorization(`Basic ${btoa("team:app:y")}`), "team");
});
