/**
 * A streamed call spoken by hand, for loads where the client's own CPU would crowd the proxies it measures:
 * one call per connection (`CONNECT` first when the target has a proxy), TLS through `Deno.startTls`, an
 * HTTP/1.1 request, and the body read as it arrives, one `read` at a time. Reading 500 streams on two cores,
 * Deno's `fetch` took 57 to 93 % of a core and this 22 to 31 % (docs/speed.md), and what a proxy adds is what
 * the streams section measures, not how much of the machine its client leaves it. Each connection makes a
 * full TLS handshake (no session is resumed), as a client process making one call does.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { ChunkedDecoder } from "../../daemon/http1/chunked.ts";
import type { Target } from "./_rig.ts";

const encoder = new TextEncoder();
const HEAD_END = Buffer.from("\r\n\r\n");
const READ_SIZE = 16 * 1024;
const MAX_HEAD = 64 * 1024;

/** A response whose body is read as it arrives. */
export interface LeanResponse {
  status: number;
  /**
   * The body's bytes, de-chunked, each with the time it was read (`performance.now()`); ends with the body
   * and throws when the connection breaks or the framing is malformed.
   */
  body: AsyncIterable<{ bytes: Uint8Array; at: number }>;
  /** Closes the connection (safe to call twice). */
  close(): void;
}

/** Reads from `conn` until a blank line ends the head; returns the head's text and the bytes after it. */
async function readHead(conn: Deno.Conn): Promise<{ head: string; rest: Buffer; at: number }> {
  let got = Buffer.alloc(0);
  const buf = new Uint8Array(READ_SIZE);
  while (true) {
    const n = await conn.read(buf);
    if (n === null) throw new Error("the connection closed before a response head");
    const at = performance.now();
    got = Buffer.concat([got, buf.subarray(0, n)]);
    const end = got.indexOf(HEAD_END);
    if (end !== -1) return { head: got.subarray(0, end).toString("latin1"), rest: got.subarray(end + 4), at };
    if (got.length > MAX_HEAD) throw new Error("response head too long");
  }
}

/** Opens a TLS connection to `t`'s stand-in, through its proxy when it has one. */
async function connect(t: Target): Promise<Deno.TlsConn> {
  const url = new URL(t.base);
  const authority = `${url.hostname}:${url.port || 443}`;
  const hop = t.proxy ? new URL(t.proxy) : url;
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port: Number(hop.port) });
  try {
    if (t.proxy) {
      await tcp.write(encoder.encode(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`));
      const { head, rest } = await readHead(tcp);
      if (!/^HTTP\/1\.[01] 200/.test(head)) throw new Error(`CONNECT refused: ${head.split("\r\n")[0]}`);
      if (rest.length > 0) throw new Error("the proxy sent bytes before the TLS handshake");
    }
    return await Deno.startTls(tcp, { hostname: url.hostname, caCerts: t.trust });
  } catch (e) {
    tcp.close();
    throw e;
  }
}

/** POSTs `json` to `path` on `t` and resolves once the response head is in. */
export async function leanPost(t: Target, path: string, json: string): Promise<LeanResponse> {
  const conn = await connect(t);
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    try {
      conn.close();
    } catch { /* already closed by the peer */ }
  };
  try {
    const body = encoder.encode(json);
    const url = new URL(t.base);
    await conn.write(Buffer.concat([
      Buffer.from(
        `POST ${path} HTTP/1.1\r\nHost: ${url.host}\r\ncontent-type: application/json\r\n` +
          `content-length: ${body.length}\r\nconnection: close\r\n\r\n`,
        "latin1",
      ),
      body,
    ]));
    const { head, rest, at } = await readHead(conn);
    const status = Number(head.slice(9, 12));
    const chunked = /\r\ntransfer-encoding:\s*chunked/i.test(head);
    return { status, body: readBody(conn, chunked ? new ChunkedDecoder() : undefined, rest, at), close };
  } catch (e) {
    close();
    throw e;
  }
}

async function* readBody(
  conn: Deno.Conn,
  decoder: ChunkedDecoder | undefined,
  first: Buffer,
  firstAt: number,
): AsyncGenerator<{ bytes: Uint8Array; at: number }> {
  const buf = new Uint8Array(READ_SIZE);
  let input = first;
  let at = firstAt;
  while (true) {
    if (input.length > 0) {
      if (!decoder) {
        yield { bytes: input, at };
      } else {
        const step = decoder.push(input);
        if (step.error) throw new Error(`malformed chunked body: ${step.error}`);
        for (const bytes of step.data) yield { bytes, at };
        if (step.rest) return;
      }
    }
    const n = await conn.read(buf);
    if (n === null) {
      if (decoder) throw new Error("the connection closed inside a chunked body");
      return;
    }
    at = performance.now();
    input = Buffer.from(buf.subarray(0, n));
  }
}
