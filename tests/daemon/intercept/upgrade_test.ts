import assert from "node:assert/strict";
import { isUpgrade, upgradeHead } from "../../../daemon/intercept/upgrade.ts";

Deno.test("isUpgrade() wants Connection: upgrade (among other tokens) and Upgrade: websocket, with no body", () => {
  assert.equal(isUpgrade({ connection: "Upgrade", upgrade: "websocket" }), true);
  assert.equal(isUpgrade({ connection: "keep-alive, Upgrade", upgrade: "WebSocket" }), true);
  assert.equal(isUpgrade({ connection: "upgrade" }), false);
  assert.equal(isUpgrade({ upgrade: "websocket" }), false);
  assert.equal(isUpgrade({ connection: "upgrades", upgrade: "websocket" }), false);
  assert.equal(isUpgrade({ connection: "Upgrade, HTTP2-Settings", upgrade: "h2c" }), false);
  assert.equal(isUpgrade({ connection: "Upgrade", upgrade: "websocket", "content-length": "5" }), false);
  assert.equal(
    isUpgrade({ connection: "Upgrade", upgrade: "websocket", "transfer-encoding": "chunked" }),
    false,
  );
});

Deno.test("upgradeHead() keeps the client's headers and upgrade, and drops what was meant for the proxy", () => {
  const head = upgradeHead({
    method: "GET",
    path: "/v1/realtime?model=m",
    headers: {
      host: "api.openai.com",
      connection: "Upgrade",
      upgrade: "websocket",
      "sec-websocket-key": "k",
      "proxy-authorization": "Basic eDp5",
      "keep-alive": "timeout=5",
      cookie: ["a=1", "b=2"] as unknown as string,
    },
  });
  assert.equal(
    head,
    "GET /v1/realtime?model=m HTTP/1.1\r\nhost: api.openai.com\r\nconnection: Upgrade\r\nupgrade: websocket\r\n" +
      "sec-websocket-key: k\r\ncookie: a=1\r\ncookie: b=2\r\n\r\n",
  );
});
