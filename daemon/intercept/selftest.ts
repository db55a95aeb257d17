/**
 * The synthetic host `selftest.halton-meter.invalid`: answered by the daemon itself, never forwarded and never
 * recorded, so `init` can prove edge → daemon → TLS with our CA → HTTP works without internet.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { VERSION } from "../../core/version.ts";
import { DISCARD } from "../upstream/flow.ts";
import type { ClientSide } from "./exchange.ts";

/** Answers one request to the self-test host: `GET /v1/selftest` → 200 JSON; anything else → 404 JSON. */
export function answerSelftest(client: ClientSide): void {
  const ok = client.method === "GET" && client.path.split("?")[0] === "/v1/selftest";
  const body = Buffer.from(
    JSON.stringify(ok ? { ok: true, version: VERSION } : { ok: false, error: "not found" }),
  );
  client.body.receive(DISCARD);
  const out = client.respond(ok ? 200 : 404, ok ? "OK" : "Not Found", {
    "content-type": "application/json",
    "content-length": body.length,
    "cache-control": "no-store",
  });
  out.end(body);
}
