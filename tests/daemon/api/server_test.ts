import assert from "node:assert/strict";
import { apiHandler, startApiServer } from "../../../daemon/api/server.ts";
import { VERSION } from "../../../core/version.ts";

Deno.test("GET /health answers ok with the version on 127.0.0.1", async () => {
  const api = await startApiServer({ port: 0 });
  try {
    const res = await fetch(`http://127.0.0.1:${api.port}/health`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: "ok", version: VERSION });
  } finally {
    await api.close();
  }
});

Deno.test("extra routes answer after /health, unknown paths get a JSON 404 and a failing route a 500", async () => {
  const errors: unknown[] = [];
  const handle = apiHandler([
    (req) => new URL(req.url).pathname === "/v1/projects" ? Response.json([]) : undefined,
    (req) => {
      if (new URL(req.url).pathname === "/boom") throw new Error("broken");
      return undefined;
    },
  ], (e) => errors.push(e));
  assert.deepEqual(await (await handle(new Request("http://x/v1/projects"))).json(), []);
  const missing = await handle(new Request("http://x/nope"));
  assert.equal(missing.status, 404);
  assert.deepEqual(await missing.json(), { error: "not found" });
  const boom = await handle(new Request("http://x/boom"));
  assert.equal(boom.status, 500);
  await boom.body?.cancel();
  assert.equal(errors.length, 1);
  const post = await handle(new Request("http://x/health", { method: "POST" }));
  assert.equal(post.status, 405);
  await post.body?.cancel();
});
