import assert from "node:assert/strict";
import { caseInsensitiveUnique, contextVars, modeVars } from "../../platform/env.ts";
import { contextFor } from "./_helpers.ts";

const input = { edgePort: 8181, caCert: "/m/ca.pem", caBundle: "/m/ca-bundle.pem" };

Deno.test("modeVars() in apps and full modes points both proxy spellings at the edge and each CA variable at its file", () => {
  for (const mode of ["apps", "full"] as const) {
    assert.deepEqual(Object.fromEntries(modeVars(mode, input).map((v) => [v.name, v.value])), {
      HTTPS_PROXY: "http://127.0.0.1:8181",
      https_proxy: "http://127.0.0.1:8181",
      HTTP_PROXY: "http://127.0.0.1:8181",
      http_proxy: "http://127.0.0.1:8181",
      NO_PROXY: "localhost,127.0.0.1,::1",
      no_proxy: "localhost,127.0.0.1,::1",
      NODE_USE_ENV_PROXY: "1",
      SSL_CERT_FILE: "/m/ca-bundle.pem",
      REQUESTS_CA_BUNDLE: "/m/ca-bundle.pem",
      CURL_CA_BUNDLE: "/m/ca-bundle.pem",
      GIT_SSL_CAINFO: "/m/ca-bundle.pem",
      AWS_CA_BUNDLE: "/m/ca-bundle.pem",
      NODE_EXTRA_CA_CERTS: "/m/ca.pem",
      DENO_CERT: "/m/ca.pem",
    });
  }
});

Deno.test("modeVars() sets nothing in env mode, where only 'run' meters", () => {
  assert.deepEqual(modeVars("env", input), []);
});

Deno.test("contextVars() uses the context's edge port, CA and bundle paths", () => {
  const ctx = contextFor("windows");
  const vars = Object.fromEntries(contextVars(ctx).map((v) => [v.name, v.value]));
  assert.equal(vars.SSL_CERT_FILE, "C:\\Users\\Ada Lovelace\\.halton-meter\\ca-bundle.pem");
  assert.equal(vars.NODE_EXTRA_CA_CERTS, "C:\\Users\\Ada Lovelace\\.mitmproxy\\mitmproxy-ca-cert.pem");
  assert.equal(vars.HTTPS_PROXY, "http://127.0.0.1:8081");
});

Deno.test("caseInsensitiveUnique() keeps the first of names equal but for case", () => {
  assert.deepEqual(
    caseInsensitiveUnique([{ name: "A", value: "1" }, { name: "a", value: "2" }, { name: "B", value: "3" }]),
    [{ name: "A", value: "1" }, { name: "B", value: "3" }],
  );
});
