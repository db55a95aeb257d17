import assert from "node:assert/strict";
import { ConnScope } from "../../edge/_conn.ts";
import { startTcpServer } from "./_fakes.ts";

Deno.test("a scope closes the sockets it opened and adopted, and takes no new ones after", async () => {
  const ends: Promise<number | null>[] = [];
  const server = startTcpServer((conn) => {
    const ended = conn.read(new Uint8Array(1));
    ends.push(ended);
    return ended.then(() => {});
  });
  const scope = new ConnScope();
  try {
    await scope.open({ host: "127.0.0.1", port: server.port }, 2000);
    scope.adopt(await Deno.connect({ hostname: "127.0.0.1", port: server.port }));
    while (ends.length < 2) await new Promise((r) => setTimeout(r, 5));
    assert.equal(scope.closed, false);
    scope.closeAll();
    assert.equal(scope.closed, true);
    assert.deepEqual(await Promise.all(ends), [null, null]);

    await assert.rejects(scope.open({ host: "127.0.0.1", port: server.port }, 2000), Deno.errors.Interrupted);
    const late = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    assert.throws(() => scope.adopt(late), Deno.errors.Interrupted);
    await assert.rejects(late.write(new Uint8Array(1)), "an adopted socket of a closed scope is closed");
  } finally {
    scope.closeAll();
    await server.close();
  }
});

Deno.test("a scope that never dialled closes all the same", async () => {
  const server = startTcpServer((conn) => conn.read(new Uint8Array(1)).then(() => {}));
  const scope = new ConnScope();
  try {
    const conn = scope.adopt(await Deno.connect({ hostname: "127.0.0.1", port: server.port }));
    scope.closeAll();
    await assert.rejects(conn.write(new Uint8Array(1)));
    await assert.rejects(scope.open({ host: "127.0.0.1", port: server.port }, 2000), Deno.errors.Interrupted);
  } finally {
    await server.close();
  }
});
