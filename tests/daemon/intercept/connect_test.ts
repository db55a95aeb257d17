import assert from "node:assert/strict";
import { parseConnectHead } from "../../../daemon/intercept/connect.ts";

Deno.test("parseConnectHead() reads the edge's handover with the client's address and project", () => {
  assert.deepEqual(
    parseConnectHead(
      "CONNECT API.OpenAI.com:443 HTTP/1.1\r\nHost: api.openai.com:443\r\nx-halton-client: 127.0.0.1:50123\r\n" +
        "X-Halton-Project: acme/web",
    ),
    { host: "api.openai.com", port: 443, client: "127.0.0.1:50123", project: "acme/web" },
  );
});

Deno.test("parseConnectHead() takes a direct client's project from its proxy credentials", () => {
  const auth = btoa("billing-svc:anything");
  assert.deepEqual(
    parseConnectHead(`CONNECT [::1]:8443 HTTP/1.1\r\nProxy-Authorization: Basic ${auth}`),
    { host: "::1", port: 8443, project: "billing-svc" },
  );
});

Deno.test("parseConnectHead() reads a direct client's credentials as the edge does: percent-decoded, slugs only", () => {
  const head = (user: string) =>
    `CONNECT api.x.ai:443 HTTP/1.1\r\nProxy-Authorization: Basic ${btoa(`${user}:`)}`;
  assert.deepEqual(parseConnectHead(head("docker%3Ateam%2Fapi")), {
    host: "api.x.ai",
    port: 443,
    project: "docker:team/api",
  });
  assert.deepEqual(parseConnectHead(head("Not A Slug")), { host: "api.x.ai", port: 443 });
});

Deno.test("parseConnectHead() ignores a malformed project tag rather than failing the connection", () => {
  assert.deepEqual(parseConnectHead("CONNECT api.x.ai:443 HTTP/1.1\r\nx-halton-project: Not A Slug"), {
    host: "api.x.ai",
    port: 443,
  });
});

Deno.test("parseConnectHead() refuses other methods, bad targets and malformed headers", () => {
  const status = (head: string) => {
    const r = parseConnectHead(head);
    return "status" in r ? r.status : 0;
  };
  assert.equal(status("GET / HTTP/1.1"), 405);
  assert.equal(status("CONNECT api.openai.com HTTP/1.1"), 400);
  assert.equal(status("CONNECT api.openai.com:0 HTTP/1.1"), 400);
  assert.equal(status("CONNECT api.openai.com:99999 HTTP/1.1"), 400);
  assert.equal(status("CONNECT bad_host!:443 HTTP/1.1"), 400);
  assert.equal(status("CONNECT 300.1.1.1:443 HTTP/1.1"), 400);
  assert.equal(status("CONNECT a.com:443 HTTP/1.1\r\nno colon here"), 400);
  assert.equal(status("CONNECT a.com:443 HTTP/1.1\r\nx-halton-client: somewhere"), 400);
  assert.equal(status("CONNECT a.com:443 HTTP/2.0"), 400);
});
