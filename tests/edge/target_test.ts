import assert from "node:assert/strict";
import { parseHostPort, parseHttpTarget } from "../../edge/_target.ts";

Deno.test("parseHostPort() reads host:port, lower-cases the host and drops a trailing dot", () => {
  assert.deepEqual(parseHostPort("API.OpenAI.com.:443"), { host: "api.openai.com", port: 443 });
  assert.deepEqual(parseHostPort("[::1]:8443"), { host: "[::1]", port: 8443 });
  assert.deepEqual(parseHostPort("example.com", 80), { host: "example.com", port: 80 });
});

Deno.test("parseHostPort() refuses anything that could not be a host and port", () => {
  for (
    const bad of ["example.com", "x:0", "x:65536", "x:-1", "a b:1", "a\r\nb:1", ":443", "[::1:443", "x:44a"]
  ) {
    assert.equal(parseHostPort(bad), undefined, bad);
  }
});

Deno.test("parseHttpTarget() keeps the path byte for byte and drops the fragment", () => {
  assert.deepEqual(parseHttpTarget("http://Example.com:8080/a%2Fb/../c?q=%20&x#frag"), {
    host: "example.com",
    port: 8080,
    authority: "Example.com:8080",
    path: "/a%2Fb/../c?q=%20&x",
  });
  assert.equal(parseHttpTarget("http://example.com")?.path, "/");
  assert.equal(parseHttpTarget("http://example.com?x=1")?.path, "/?x=1");
  assert.equal(parseHttpTarget("HTTP://example.com/")?.port, 80);
});

Deno.test("parseHttpTarget() refuses other schemes, user info and origin-form targets", () => {
  for (
    const bad of ["https://example.com/", "/path", "http://user:pw@example.com/", "http:///x", "ftp://x/"]
  ) {
    assert.equal(parseHttpTarget(bad), undefined, bad);
  }
});
