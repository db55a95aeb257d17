import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { type Lease, UpstreamCall } from "../../../daemon/upstream/h1_client.ts";

Deno.test("UpstreamCall takes a 1 MB prompt without pausing the client, and asks it to pause beyond", () => {
  // No connection comes: every byte waits, as it would behind a provider that stopped reading.
  const never = new Promise<Lease>(() => {});
  const call = new UpstreamCall(
    { method: "POST", path: "/v1/messages", headers: { "content-length": String(4 * 1024 * 1024) } },
    { acquire: () => never, release: () => {} },
    { response: () => {}, error: () => {} },
  );
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const answers = Array.from({ length: 20 }, () => call.write(chunk));
  // The head goes out with the first chunk, so the sixteenth chunk crosses 1 MB.
  assert.deepEqual(answers.slice(0, 15), Array(15).fill(true));
  assert.deepEqual(answers.slice(15), Array(5).fill(false));
  call.destroy();
});
