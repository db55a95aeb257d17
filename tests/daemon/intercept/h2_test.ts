import assert from "node:assert/strict";
import { createHttp2Front } from "../../../daemon/intercept/h2.ts";
import type { ConnMeta } from "../../../daemon/intercept/tls_front.ts";

const hasCurl = await new Deno.Command("curl", { args: ["--version"], stdout: "null" }).output().then(
  (r) => r.success,
  () => false,
);

Deno.test({
  name: "the HTTP/2 listener refuses streams on connections it did not relay, so it is no way around CONNECT",
  ignore: !hasCurl,
  async fn() {
    const refused: [string, ConnMeta | undefined][] = [];
    const served: ConnMeta[] = [];
    const front = createHttp2Front({
      onRequest: (meta) => served.push(meta),
      onRefused: (reason, meta) => refused.push([reason, meta]),
      track: () => {},
    });
    try {
      const r = await new Deno.Command("curl", {
        args: [
          "-sS",
          "--http2-prior-knowledge",
          "-o",
          "/dev/null",
          "-w",
          "%{http_code} %{http_version}",
          `http://127.0.0.1:${front.port}/v1/chat/completions`,
        ],
        stderr: "piped",
      }).output();
      assert.equal(new TextDecoder().decode(r.stdout), "421 2");
      assert.equal(served.length, 0, "nothing was forwarded");
      assert.equal(refused.length, 1);
      assert.equal(refused[0][1], undefined);
    } finally {
      await front.close();
    }
  },
});
