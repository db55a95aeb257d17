/**
 * The CONNECT head that opens every intercepted connection: from the edge (with the client's address and the
 * project tag in `x-halton-*` headers) or from a client using the intercept port as its proxy directly.
 *
 * @module
 */
import type { Socket } from "node:net";
import { Buffer } from "node:buffer";
import { indexOfHeadEnd } from "../http1/crlf.ts";
import { projectFromProxyAuthorization } from "../../core/project_tag.ts";
import { isSlug } from "../../core/slug.ts";

/** A parsed CONNECT head. */
export interface ConnectRequest {
  /** Target host name or address, lower-case, without IPv6 brackets. */
  host: string;
  port: number;
  /** `ip:port` named by the edge, when it handed the connection over. */
  client?: string;
  /** Project tag: the edge's `x-halton-project`, or the user name of `Proxy-Authorization: Basic`. */
  project?: string;
  /** The edge's offer to pass the client's socket itself, under this token (edge/_pass.ts). */
  pass?: string;
  /**
   * On a socket the edge passed without asking first: the `CLOCK_MONOTONIC` millisecond after which the edge
   * serves the client itself, so the daemon must not take it.
   */
  deadline?: number;
}

/** A CONNECT head that cannot be served: the status to answer and why. */
export interface ConnectRejection {
  status: 400 | 405 | 408 | 431;
  reason: string;
}

/** The largest CONNECT head accepted; real ones are a few hundred bytes. */
export const MAX_HEAD_BYTES = 16 * 1024;

const HOST_NAME = /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*\.?$/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
const IPV6 = /^[0-9a-f:.]+$/;
const PASS_TOKEN = /^[0-9a-f]{32}$/;
const DEADLINE = /^\d{1,15}(\.\d{1,6})?$/;
const CLIENT = /^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:.]+\]|[0-9a-fA-F:]+):\d{1,5}$/;

/** Parses the text of a CONNECT head (request line and header lines, without the blank line). */
export function parseConnectHead(head: string): ConnectRequest | ConnectRejection {
  const lines = head.split("\r\n");
  const m = /^([A-Z]+) (\S+) HTTP\/1\.[01]$/.exec(lines[0]);
  if (!m) return { status: 400, reason: "malformed request line" };
  if (m[1] !== "CONNECT") return { status: 405, reason: `method ${m[1]} on the intercept port` };
  const target = parseAuthority(m[2]);
  if (!target) return { status: 400, reason: "malformed CONNECT target" };
  const out: ConnectRequest = { ...target };
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) return { status: 400, reason: "malformed header line" };
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === "x-halton-client") {
      if (!CLIENT.test(value)) return { status: 400, reason: "malformed x-halton-client" };
      out.client = value;
    } else if (name === "x-halton-pass") {
      // A malformed offer is only not taken up: the edge relays then, as it does for a daemon without it.
      if (PASS_TOKEN.test(value)) out.pass = value;
    } else if (name === "x-halton-deadline") {
      if (DEADLINE.test(value)) out.deadline = Number(value);
    } else if (name === "x-halton-project") {
      // A bad tag falls through to the next attribution layer rather than failing the request.
      if (isSlug(value)) out.project = value;
    } else if (name === "proxy-authorization" && out.project === undefined) {
      const project = projectFromProxyAuthorization(value);
      if (project) out.project = project;
    }
  }
  return out;
}

export function parseAuthority(target: string): { host: string; port: number } | undefined {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(target);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  const raw = m[1].toLowerCase();
  if (raw.startsWith("[")) {
    const inner = raw.slice(1, -1);
    return IPV6.test(inner) ? { host: inner, port } : undefined;
  }
  if (IPV4.test(raw)) return raw.split(".").every((o) => Number(o) <= 255) ? { host: raw, port } : undefined;
  return HOST_NAME.test(raw) ? { host: raw.replace(/\.$/, ""), port } : undefined;
}

/** The result of reading a head off a socket: the parse, plus any bytes the client sent after the head. */
export type HeadRead =
  | { ok: true; request: ConnectRequest; rest: Buffer }
  | { ok: false; rejection: ConnectRejection }
  | { ok: false; closed: true };

/**
 * Reads the CONNECT head from `socket`, at most {@linkcode MAX_HEAD_BYTES}, within `timeoutMs`. Bytes after
 * the head (a client may send its TLS ClientHello without waiting) are returned, not lost.
 */
export function readConnectHead(socket: Socket, timeoutMs: number): Promise<HeadRead> {
  return new Promise((resolve) => {
    let buf: Buffer = Buffer.alloc(0);
    const finish = (r: HeadRead) => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("end", onClose);
      socket.off("close", onClose);
      socket.off("error", onClose);
      resolve(r);
    };
    const onData = (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      const end = indexOfHeadEnd(buf);
      if (end === -1) {
        if (buf.length > MAX_HEAD_BYTES) {
          finish({ ok: false, rejection: { status: 431, reason: "head too large" } });
        }
        return;
      }
      if (end > MAX_HEAD_BYTES) {
        finish({ ok: false, rejection: { status: 431, reason: "head too large" } });
        return;
      }
      socket.pause();
      const parsed = parseConnectHead(buf.subarray(0, end).toString("latin1"));
      finish(
        "status" in parsed
          ? { ok: false, rejection: parsed }
          : { ok: true, request: parsed, rest: buf.subarray(end + 4) },
      );
    };
    const onClose = () => finish({ ok: false, closed: true });
    const timer = setTimeout(
      () => finish({ ok: false, rejection: { status: 408, reason: "no CONNECT head in time" } }),
      timeoutMs,
    );
    socket.on("data", onData);
    socket.on("end", onClose);
    socket.on("close", onClose);
    socket.on("error", onClose);
  });
}

const REASONS: Record<ConnectRejection["status"], string> = {
  400: "Bad Request",
  405: "Method Not Allowed",
  408: "Request Timeout",
  431: "Request Header Fields Too Large",
};

/** The response sent for a rejected head, before closing. */
export function rejectionResponse(r: ConnectRejection): string {
  return `HTTP/1.1 ${r.status} ${REASONS[r.status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`;
}
