import assert from "node:assert/strict";
import { BUNDLE_VARS, EXTRA_CA_VARS, NO_PROXY, proxyEnv } from "../../platform/proxy_env.ts";

Deno.test("proxyEnv() with a project puts it in the proxy URL and HALTON_PROJECT", () => {
  const env = proxyEnv({
    edgePort: 8081,
    project: "acme",
    caCert: "/ca/cert.pem",
    caBundle: "/m/ca-bundle.pem",
  });
  for (const v of ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"]) {
    assert.equal(env[v], "http://acme:x@127.0.0.1:8081", v);
  }
  assert.equal(env.NO_PROXY, "localhost,127.0.0.1,::1");
  assert.equal(env.no_proxy, NO_PROXY);
  assert.equal(env.HALTON_PROJECT, "acme");
  assert.equal(env.NODE_USE_ENV_PROXY, "1", "Node's fetch honours the proxy only with it");
  for (const v of BUNDLE_VARS) assert.equal(env[v], "/m/ca-bundle.pem", v);
  for (const v of EXTRA_CA_VARS) assert.equal(env[v], "/ca/cert.pem", v);
});

Deno.test("proxyEnv() without a project leaves the user part and HALTON_PROJECT out", () => {
  const env = proxyEnv({ edgePort: 18081, caCert: "/c.pem", caBundle: "/b.pem" });
  assert.equal(env.HTTPS_PROXY, "http://127.0.0.1:18081");
  assert.equal("HALTON_PROJECT" in env, false);
  assert.equal(env.NODE_USE_ENV_PROXY, "1");
});

Deno.test("proxyEnv() percent-encodes slug characters that mean something in a URL", () => {
  const env = proxyEnv({ edgePort: 8081, project: "docker:team/api" });
  assert.equal(env.HTTPS_PROXY, "http://docker%3Ateam%2Fapi:x@127.0.0.1:8081");
  assert.equal(new URL(env.HTTPS_PROXY).username, "docker%3Ateam%2Fapi");
  assert.equal(decodeURIComponent(new URL(env.HTTPS_PROXY).username), "docker:team/api");
  assert.equal(env.HALTON_PROJECT, "docker:team/api");
});

Deno.test("proxyEnv() leaves out the CA variables it has no file for", () => {
  const env = proxyEnv({ edgePort: 8081, caCert: "/c.pem" });
  for (const v of BUNDLE_VARS) assert.equal(v in env, false, v);
  assert.equal(env.NODE_EXTRA_CA_CERTS, "/c.pem");
  const none = proxyEnv({ edgePort: 8081 });
  for (const v of [...BUNDLE_VARS, ...EXTRA_CA_VARS]) assert.equal(v in none, false, v);
});

Deno.test("proxyEnv() gives a project URL a non-empty password, which Claude Code's runtime needs", () => {
  const url = new URL(proxyEnv({ edgePort: 8081, project: "demo" }).HTTPS_PROXY);
  assert.equal(url.username, "demo");
  assert.notEqual(url.password, "");
});
