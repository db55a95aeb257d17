/**
 * One HTTP/2 connection (RFC 9113), server side, on a decrypted client socket: frames in and out, HPACK, flow
 * control both ways and the stream states, each request stream handed on as a {@linkcode ClientSide}. Only
 * what a server of requests needs: no push, no priorities (PRIORITY is read and ignored), no extended CONNECT.
 *
 * A peer that breaks the protocol gets GOAWAY and the connection ends; a malformed request gets RST_STREAM and
 * the others go on. What a peer can make this side hold is bounded: header blocks (the list size it takes),
 * request body bytes (the streams' flow-control windows, granted back only as the exchange takes the bytes),
 * frames answered with frames (the connection ends when its unsent bytes pass a bound no data can reach), and
 * streams reset as fast as they open.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import type { Duplex } from "node:stream";
import { MAX_HEAD, ownHeader, setHeader } from "../http1/head.ts";
import { responseHasNoBody } from "../http1/framing.ts";
import { BodyChannel, type BodySink } from "../upstream/flow.ts";
import type { ClientSide } from "./exchange.ts";
import { DISCARD_BYTES, DISCARD_MS, endSoon, IdleTimer } from "./closing.ts";
import {
  DEFAULT_MAX_FRAME,
  DEFAULT_WINDOW,
  ErrorCode,
  Flag,
  frame,
  FRAME_HEAD,
  goawayFrame,
  MAX_WINDOW,
  PREFACE,
  resetFrame,
  Setting,
  settingsFrame,
  Type,
  windowUpdateFrame,
  writeFrameHead,
} from "./h2_frames.ts";
import { encodeResponseHead, type Field, HpackDecoder, HpackError } from "./hpack.ts";

/** Streams a client may have open at once. */
const MAX_STREAMS = 100;
/** Request body octets a stream may send before this side takes them. */
const STREAM_WINDOW = 256 * 1024;
/**
 * Request body octets the connection may have in flight: the largest window there is, granted back at once.
 * What the daemon holds is bounded by the streams' windows (at most {@linkcode MAX_STREAMS} of
 * {@linkcode STREAM_WINDOW}), granted only as the exchange takes the bytes. A connection window near that bound
 * deadlocks clients built on Rust's `h2` (Deno's `fetch`, Codex's reqwest) with more requests than streams
 * allowed: they hand connection window to the requests still queued, which cannot send (hyperium/h2#853), and
 * 120 uploads of 300 KB at once over one connection stopped for good with a 4 MB window here.
 */
const CONNECTION_WINDOW = MAX_WINDOW;
/** Response body octets held for a stream before its sink asks the exchange to pause. */
const HIGH_WATER = 64 * 1024;
/** Octets handed to the socket and not yet sent, past which response data waits for it to drain. */
const SOCKET_HIGH = 256 * 1024;
/**
 * Unsent octets past which the peer is not reading while it makes this side answer (PING, SETTINGS): data
 * stops at {@linkcode SOCKET_HIGH}, so only answers to its own frames can get there.
 */
const SOCKET_LIMIT = SOCKET_HIGH + 1024 * 1024;
/** A header block (all its frames) larger than this ends the connection before it is decoded. */
const MAX_HEADER_BLOCK = 2 * MAX_HEAD;
/**
 * Streams a second that the client resets, or makes this side reset or refuse (malformed, past its window or
 * the stream limit), past which the connection ends: rapid reset. A burst of twice that is allowed, as a
 * client closing many streams at once makes.
 */
const RESETS_PER_SECOND = 200;
/**
 * Frames that carry no request (PING, SETTINGS, PRIORITY, empty frames, resets of closed streams) a second,
 * likewise.
 */
const IDLE_FRAMES_PER_SECOND = 2000;
/** How long a graceful GOAWAY waits for the PING that follows it to come back before naming the last stream. */
const GOAWAY_ROUND_TRIP_MS = 1000;
/** The payload of that PING, to know its answer from the client's own PINGs' answers. */
const GOAWAY_PING = Buffer.from("hm-drain", "latin1");

/** Headers no HTTP/2 message may carry (RFC 9113 §8.2.2). */
const CONNECTION_SPECIFIC = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
]);
const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;
/** A field value's forbidden octets (RFC 9113 §8.2.1): they would split an HTTP/1.1 head upstream. */
const BAD_VALUE = /[\0\r\n]|^[ \t]|[ \t]$/;
/** Octets a request target never has: they would break the request line upstream. */
const BAD_PATH = /[\0-\x20\x7f]/;

/** What {@linkcode serveHttp2} tells its caller. */
export interface Http2Handlers {
  /** Each request stream; the exchange answers through it. */
  onRequest(client: ClientSide): void;
  /** A stream or the connection refused for breaking the protocol, for the log. */
  onRefused(reason: string): void;
}

/** A connection being served. */
export interface Http2Connection {
  /** Sends GOAWAY: no new streams; the connection ends once those open have. */
  goAway(): void;
  /** Ends the connection now. */
  destroy(): void;
  /** Resolves once the socket closed. */
  readonly closed: Promise<void>;
}

interface Stream {
  readonly id: number;
  /** The request body; ended once END_STREAM came or the stream was reset. */
  readonly body: BodyChannel;
  /** True once the client can send nothing more on it. */
  remoteClosed: boolean;
  /** True once END_STREAM or RST_STREAM was sent. */
  localClosed: boolean;
  /** The request's `content-length`, checked against the DATA received. */
  readonly expectedLength: number | undefined;
  received: number;
  /** What the client may still send before a WINDOW_UPDATE. */
  recvWindow: number;
  /** Octets taken and not yet granted back to the stream. */
  unacked: number;
  paused: boolean;
  /** What this side may still send. */
  sendWindow: number;
  pending: Buffer[];
  pendingBytes: number;
  /** end() was called, or a body of known length was given whole: END_STREAM follows the pending data. */
  ending: boolean;
  /** abort() after the response started: RST_STREAM follows the pending data. */
  resetting: boolean;
  needDrain: boolean;
  drain?: () => void;
  delivered?: (ok: boolean) => void;
  closeListeners: (() => void)[];
  finished: boolean;
  /** The response's head, held until its first data, its end, or the end of the current I/O turn. */
  head?: { status: number; headers: OutgoingHttpHeaders };
}

/**
 * Serves HTTP/2 on `socket`, whose first bytes `first` (read already, the preface's start) are handled first.
 */
export function serveHttp2(socket: Duplex, first: Buffer, handlers: Http2Handlers): Http2Connection {
  const decoder = new HpackDecoder(MAX_HEAD);
  const streams = new Map<number, Stream>();
  /** Streams with response data or an end waiting to be framed, in turn. */
  const ready = new Set<Stream>();
  /** Streams whose response head waits (see {@linkcode Stream.head}). */
  const heads = new Set<Stream>();
  let headsTimer: ReturnType<typeof setImmediate> | undefined;
  let lastStreamId = 0;
  /** True once GOAWAY named the last stream this side takes: newer streams are refused. */
  let goawaySent = false;
  /** The first, graceful GOAWAY's round trip: set while this side waits for its PING to come back. */
  let goawayTimer: ReturnType<typeof setTimeout> | undefined;
  let peerGoaway = false;
  let ending = false;
  let prefaceSeen = false;
  let settingsSeen = false;
  let peerMaxFrame = DEFAULT_MAX_FRAME;
  let peerInitialWindow = DEFAULT_WINDOW;
  let sendWindow = DEFAULT_WINDOW;
  let recvWindow = CONNECTION_WINDOW;
  let connUnacked = 0;
  let tableSizeUpdate = false;
  /** A header block still waiting for its CONTINUATION frames. */
  let block: { stream: number; endStream: boolean; parts: Buffer[]; size: number } | undefined;
  let input: Buffer = first;
  const resets = new Allowance(RESETS_PER_SECOND);
  const idleFrames = new Allowance(IDLE_FRAMES_PER_SECOND);
  /** Streams answered whole while their request body still comes: what is left to read and drop of each. */
  const discarding = new Map<number, { left: number; until: number; recvWindow: number; unacked: number }>();

  // A connection without a stream for the idle time is sent away.
  const idle = new IdleTimer(() => streams.size === 0, () => goAway());

  let out: Buffer[] = [];
  let outBytes = 0;
  let flushQueued = false;
  const flush = () => {
    const parts = out;
    out = [];
    outBytes = 0;
    // A peer that has ended its side (or reset) gets nothing more: writing after its FIN is an error.
    if (!parts.length || !socket.writable) return;
    socket.write(parts.length === 1 ? parts[0] : Buffer.concat(parts));
    if (socket.writableLength > SOCKET_LIMIT) {
      handlers.onRefused("HTTP/2: the client sends frames to answer and does not read the answers");
      socket.destroy();
    }
  };
  /**
   * Queues a frame. The queue is written in one go where a turn of work ends (a read's frames handled, a
   * response's bytes given, a stream about to tell the exchange it ended), so that what the client waits for
   * leaves before the work that follows it (metering, the row); a microtask catches anything queued elsewhere.
   */
  const send = (bytes: Buffer) => {
    out.push(bytes);
    outBytes += bytes.length;
    if (!flushQueued) {
      flushQueued = true;
      queueMicrotask(() => {
        flushQueued = false;
        flush();
      });
    }
  };

  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => resolveClosed = r);

  const finishSocket = () => {
    if (ending) return;
    ending = true;
    flush();
    endSoon(socket);
  };

  /** A connection error (RFC 9113 §5.4.1): GOAWAY, every stream ended, the socket closed. */
  const fail = (code: ErrorCode, reason: string) => {
    if (ending) return;
    handlers.onRefused(`HTTP/2: ${reason}`);
    if (!goawaySent) send(goawayFrame(lastStreamId, code, reason));
    goawaySent = true;
    for (const s of streams.values()) closeStream(s, false);
    finishSocket();
  };

  const countFrame = (kind: "reset" | "idle") => {
    if (kind === "reset" && !resets.take()) fail(ErrorCode.ENHANCE_YOUR_CALM, "streams reset too fast");
    else if (kind === "idle" && !idleFrames.take()) {
      fail(ErrorCode.ENHANCE_YOUR_CALM, "too many frames without requests");
    }
  };

  /** Ends a stream on both sides; `ok` says the response was delivered whole. */
  const closeStream = (s: Stream, ok: boolean) => {
    if (!streams.delete(s.id)) return;
    ready.delete(s);
    heads.delete(s);
    s.head = undefined;
    s.pending = [];
    s.pendingBytes = 0;
    s.remoteClosed = s.localClosed = true;
    s.finished = ok;
    if (!s.body.done) s.body.abort(new Error(ok ? "response sent before the request ended" : "stream reset"));
    const delivered = s.delivered;
    s.delivered = undefined;
    flush();
    delivered?.(ok);
    for (const cb of s.closeListeners.splice(0)) cb();
    if (streams.size === 0) {
      idle.waitingSinceNow();
      if (goawaySent || peerGoaway) finishSocket();
    }
  };

  /** Resets a stream from this side. */
  const resetStream = (s: Stream, code: ErrorCode) => {
    if (!s.localClosed) send(resetFrame(s.id, code));
    s.localClosed = true;
    closeStream(s, false);
  };

  /** Resets a stream for what its client did, which counts against the client's allowance of resets. */
  const refuseStream = (s: Stream, code: ErrorCode) => {
    resetStream(s, code);
    countFrame("reset");
  };

  const grantConnection = (n: number) => {
    connUnacked += n;
    if (connUnacked >= CONNECTION_WINDOW / 4 && !ending) {
      send(windowUpdateFrame(0, connUnacked));
      recvWindow += connUnacked;
      connUnacked = 0;
    }
  };

  /** Grants a stream back what its body took, once enough has gathered and the exchange is not pausing it. */
  const grantStream = (s: Stream) => {
    if (!s.paused && !s.remoteClosed) grantBack(s.id, s);
  };
  /** Grants stream `id` back what it took, once that is a quarter of its window. */
  const grantBack = (id: number, w: { recvWindow: number; unacked: number }) => {
    if (w.unacked < STREAM_WINDOW / 4) return;
    send(windowUpdateFrame(id, w.unacked));
    w.recvWindow += w.unacked;
    w.unacked = 0;
  };

  /** Frames the ready streams' data, one frame a stream in turn, while the windows and the socket allow. */
  const pump = () => {
    while (ready.size && !ending) {
      let progressed = false;
      for (const s of ready) {
        if (socket.writableLength + outBytes >= SOCKET_HIGH) return;
        if (!s.pendingBytes) {
          ready.delete(s);
          if (s.ending) endStream(s);
          else if (s.resetting) resetStream(s, ErrorCode.INTERNAL_ERROR);
          continue;
        }
        const head = s.pending[0];
        const n = Math.min(head.length, peerMaxFrame, s.sendWindow, sendWindow);
        if (n <= 0) {
          if (s.sendWindow <= 0) ready.delete(s);
          continue;
        }
        const last = n === s.pendingBytes && s.ending;
        const f = Buffer.allocUnsafe(FRAME_HEAD + n);
        writeFrameHead(f, 0, n, Type.DATA, last ? Flag.END_STREAM : 0, s.id);
        f.set(n === head.length ? head : head.subarray(0, n), FRAME_HEAD);
        if (n === head.length) s.pending.shift();
        else s.pending[0] = head.subarray(n);
        s.pendingBytes -= n;
        s.sendWindow -= n;
        sendWindow -= n;
        send(f);
        progressed = true;
        if (last) {
          ready.delete(s);
          s.localClosed = true;
          finishResponse(s);
        } else if (s.needDrain && s.pendingBytes < HIGH_WATER / 2) {
          s.needDrain = false;
          const drain = s.drain;
          if (drain) queueMicrotask(drain);
        }
      }
      if (!progressed || sendWindow <= 0) return;
    }
  };

  /** Sends END_STREAM on an empty DATA frame (its data went before). */
  const endStream = (s: Stream) => {
    send(frame(Type.DATA, Flag.END_STREAM, s.id));
    s.localClosed = true;
    finishResponse(s);
  };

  /**
   * The response is sent whole. A request body still coming is not wanted any more, and RFC 9113 §8.1 lets
   * the stream be reset with NO_ERROR; but clients built on older nghttp2 (curl 7.88) then drop the answer
   * they already have and report a stream error. So the rest of the body is read and dropped, its window
   * granted back, within {@linkcode DISCARD_BYTES} and {@linkcode DISCARD_MS}; only a body past those is
   * reset.
   */
  const finishResponse = (s: Stream) => {
    if (!s.remoteClosed) {
      if (discarding.size < MAX_STREAMS) {
        discarding.set(s.id, {
          left: DISCARD_BYTES,
          until: Date.now() + DISCARD_MS,
          recvWindow: s.recvWindow,
          unacked: s.unacked,
        });
      } else send(resetFrame(s.id, ErrorCode.NO_ERROR));
    }
    closeStream(s, true);
  };

  /** DATA on a stream answered whole (`finishResponse`): dropped, its window granted back. */
  const discardData = (id: number, flags: number, length: number) => {
    const d = discarding.get(id)!;
    d.recvWindow -= length;
    d.left -= length;
    d.unacked += length;
    if (flags & Flag.END_STREAM) {
      discarding.delete(id);
    } else if (d.recvWindow < 0 || d.left < 0 || Date.now() > d.until) {
      discarding.delete(id);
      send(resetFrame(id, d.recvWindow < 0 ? ErrorCode.FLOW_CONTROL_ERROR : ErrorCode.NO_ERROR));
    } else grantBack(id, d);
    if (!length && !(flags & Flag.END_STREAM)) countFrame("idle");
  };

  const clientSide = (s: Stream, method: string, path: string, headers: IncomingHttpHeaders): ClientSide => {
    let responded = false;
    return {
      method,
      path,
      httpVersion: "2.0",
      headers,
      body: s.body,
      respond(status, _message, outHeaders): BodySink {
        if (responded) throw new Error("response already started");
        if (s.localClosed) throw new Error("stream closed");
        responded = true;
        const empty = responseHasNoBody(method, status);
        if (empty) {
          sendHeaders(s.id, status, outHeaders, true);
          s.localClosed = true;
          finishResponse(s);
        } else holdHead(s, status, outHeaders);
        // A body of known length ends with its last bytes: END_STREAM goes on their frame rather than in a
        // frame of its own after the exchange's end(), which comes once the call's metering has run.
        const length = Number(outHeaders["content-length"]);
        let left = Number.isSafeInteger(length) && length > 0 ? length : undefined;
        let endCalled = false;
        const queue = (data: Buffer) => {
          s.pending.push(data);
          s.pendingBytes += data.length;
          if (left === undefined) return;
          left -= data.length;
          if (left <= 0) s.ending = true;
        };
        return {
          write(data) {
            if (s.localClosed || s.ending || empty || !data.length) return true;
            sendHead(s);
            queue(data);
            if (s.sendWindow > 0) ready.add(s);
            pump();
            flush();
            if (s.pendingBytes < HIGH_WATER) return true;
            s.needDrain = true;
            return false;
          },
          end(last, delivered) {
            if (endCalled) return;
            endCalled = true;
            if (s.localClosed) return delivered?.(s.finished);
            sendHead(s);
            s.delivered = delivered;
            if (last?.length && !s.ending) queue(last);
            s.ending = true;
            ready.add(s);
            pump();
            flush();
          },
          onDrain(cb) {
            s.drain = cb;
          },
        };
      },
      abort() {
        if (s.localClosed) return;
        if (!responded) return resetStream(s, ErrorCode.INTERNAL_ERROR);
        // What came before the upstream's failure still reaches the client, then the reset says it is cut.
        sendHead(s);
        s.resetting = true;
        ready.add(s);
        pump();
        flush();
      },
      onClose(cb) {
        if (streams.has(s.id)) s.closeListeners.push(cb);
        else queueMicrotask(cb);
      },
      get finished() {
        return s.finished;
      },
    };
  };

  /**
   * Holds a response head so that it leaves with the first body bytes (or the end) in one write: one TLS
   * record and one system call instead of two. A body slow to start (a stream before its first event) gets its
   * head sent on its own once the current I/O turn is over, so the client still sees it at once.
   */
  const holdHead = (s: Stream, status: number, headers: OutgoingHttpHeaders) => {
    s.head = { status, headers };
    heads.add(s);
    headsTimer ??= setImmediate(() => {
      headsTimer = undefined;
      for (const s of heads) sendHead(s);
      flush();
    });
  };

  const sendHead = (s: Stream) => {
    const head = s.head;
    if (!head) return;
    s.head = undefined;
    heads.delete(s);
    sendHeaders(s.id, head.status, head.headers, false);
  };

  const sendHeaders = (id: number, status: number, h: OutgoingHttpHeaders, endStream: boolean) => {
    const fields: Field[] = [];
    for (const name in h) {
      const value = h[name];
      const lower = name.toLowerCase();
      if (value === undefined || CONNECTION_SPECIFIC.has(lower)) continue;
      if (Array.isArray(value)) { for (const v of value) fields.push([lower, String(v)]); }
      else fields.push([lower, String(value)]);
    }
    const head = encodeResponseHead(status, fields, tableSizeUpdate);
    tableSizeUpdate = false;
    // A head larger than a frame goes on in CONTINUATION frames, with nothing between them.
    for (let at = 0; at < head.length || at === 0; at += peerMaxFrame) {
      const part = head.subarray(at, at + peerMaxFrame);
      const isLast = at + peerMaxFrame >= head.length;
      const flags = (isLast ? Flag.END_HEADERS : 0) | (at === 0 && endStream ? Flag.END_STREAM : 0);
      send(frame(at === 0 ? Type.HEADERS : Type.CONTINUATION, flags, id, part));
    }
  };

  /** A request's header list, checked as RFC 9113 §8.3 asks; a string says why it is malformed. */
  const openRequest = (id: number, fields: Field[], endStream: boolean): string | undefined => {
    const pseudo: Record<string, string> = {};
    const headers: Record<string, string | string[]> = {};
    let regular = false;
    for (const [name, value] of fields) {
      if (BAD_VALUE.test(value)) return `a bad value in ${name}`;
      if (name[0] === ":") {
        if (regular) return "a pseudo-header after a header";
        if (![":method", ":scheme", ":path", ":authority"].includes(name)) {
          return `unknown pseudo-header ${name}`;
        }
        if (Object.hasOwn(pseudo, name)) return `${name} twice`;
        pseudo[name] = value;
        continue;
      }
      regular = true;
      if (!TOKEN.test(name)) return `a bad header name`;
      if (CONNECTION_SPECIFIC.has(name)) return `a connection-specific header (${name})`;
      if (name === "te" && value !== "trailers") return "te other than trailers";
      const had = ownHeader(headers, name);
      if (had === undefined) setHeader(headers, name, name === "set-cookie" ? [value] : value);
      else if (Array.isArray(had)) had.push(value);
      else headers[name] = had + (name === "cookie" ? "; " : ", ") + value;
    }
    const method = pseudo[":method"];
    const path = pseudo[":path"];
    if (!method || !TOKEN.test(method.toLowerCase())) return "no :method";
    if (method === "CONNECT") return "CONNECT inside the intercepted connection";
    if (!pseudo[":scheme"]) return "no :scheme";
    if (!path || BAD_PATH.test(path) || (path[0] !== "/" && !(path === "*" && method === "OPTIONS"))) {
      return "no usable :path";
    }
    const host = pseudo[":authority"] ?? headers.host;
    if (typeof host !== "string" || !host || BAD_PATH.test(host)) return "no :authority";
    const length = headers["content-length"];
    if (length !== undefined && !/^\d{1,15}$/.test(String(length))) return "a bad content-length";

    const s: Stream = {
      id,
      body: new BodyChannel({
        pause: () => s.paused = true,
        resume: () => {
          s.paused = false;
          grantStream(s);
        },
      }),
      remoteClosed: endStream,
      localClosed: false,
      expectedLength: length === undefined ? undefined : Number(length),
      received: 0,
      recvWindow: STREAM_WINDOW,
      unacked: 0,
      paused: false,
      sendWindow: peerInitialWindow,
      pending: [],
      pendingBytes: 0,
      ending: false,
      resetting: false,
      needDrain: false,
      closeListeners: [],
      finished: false,
    };
    streams.set(id, s);
    if (endStream) {
      if (s.expectedLength) return void malformed(s, "content-length without a body");
      s.body.end();
    } else if (String(headers.expect).toLowerCase() === "100-continue") sendHeaders(id, 100, {}, false);
    delete headers.host;
    handlers.onRequest(clientSide(s, method, path, { host, ...headers } as IncomingHttpHeaders));
    return undefined;
  };

  const malformed = (s: Stream, reason: string) => {
    handlers.onRefused(`HTTP/2 stream: ${reason}`);
    refuseStream(s, ErrorCode.PROTOCOL_ERROR);
  };

  /** A whole header block for `id`. */
  const onHeaderBlock = (id: number, endStream: boolean, bytes: Buffer) => {
    let fields: Field[];
    try {
      fields = decoder.decode(bytes);
    } catch (e) {
      if (e instanceof HpackError) return fail(ErrorCode.COMPRESSION_ERROR, e.message);
      throw e;
    }
    const s = streams.get(id);
    if (s) {
      // Trailers: the body's end; their fields are not forwarded (HTTP/1.1 upstream gets a plain body).
      if (s.remoteClosed) return refuseStream(s, ErrorCode.STREAM_CLOSED);
      if (!endStream) return malformed(s, "trailers without END_STREAM");
      return endOfBody(s);
    }
    if (id <= lastStreamId) {
      // A request's head on an id not above the last: a stream reused, or opened out of order (RFC 9113
      // §5.1.1). Left unanswered, its client would wait for ever.
      if (fields.some(([name]) => name === ":method")) {
        return fail(ErrorCode.PROTOCOL_ERROR, "a new stream's id is not above the last one's");
      }
      // A stream already closed: what was in flight as it closed, or the trailers that end a dropped body.
      return void discarding.delete(id);
    }
    lastStreamId = id;
    if (goawaySent || streams.size >= MAX_STREAMS) {
      send(resetFrame(id, ErrorCode.REFUSED_STREAM));
      return countFrame("reset");
    }
    const why = openRequest(id, fields, endStream);
    if (why) {
      handlers.onRefused(`HTTP/2 stream: ${why}`);
      send(resetFrame(id, ErrorCode.PROTOCOL_ERROR));
      countFrame("reset");
    }
  };

  const endOfBody = (s: Stream) => {
    s.remoteClosed = true;
    if (s.expectedLength !== undefined && s.received !== s.expectedLength) {
      return malformed(s, "body length differs from content-length");
    }
    s.body.end();
  };

  const onData = (id: number, flags: number, payload: Buffer, length: number) => {
    // The whole frame, padding included, counts against the windows (RFC 9113 §6.9.1). The connection's comes
    // back at once (CONNECTION_WINDOW says why); a stream's, only as its exchange takes the bytes (grantStream).
    recvWindow -= length;
    if (recvWindow < 0) return fail(ErrorCode.FLOW_CONTROL_ERROR, "DATA past the connection's window");
    grantConnection(length);
    const s = streams.get(id);
    if (!s) {
      if (discarding.has(id)) discardData(id, flags, length);
      else if (id > lastStreamId) fail(ErrorCode.PROTOCOL_ERROR, "DATA on a stream never opened");
      return;
    }
    if (s.remoteClosed) return refuseStream(s, ErrorCode.STREAM_CLOSED);
    s.recvWindow -= length;
    if (s.recvWindow < 0) return refuseStream(s, ErrorCode.FLOW_CONTROL_ERROR);
    s.received += payload.length;
    if (s.expectedLength !== undefined && s.received > s.expectedLength) {
      return malformed(s, "body longer than content-length");
    }
    // Granted back whole, padding too, as it was taken from the window above.
    s.unacked += length;
    if (!payload.length && !(flags & Flag.END_STREAM)) countFrame("idle");
    if (payload.length) s.body.push(payload);
    if (flags & Flag.END_STREAM) endOfBody(s);
    else grantStream(s);
  };

  const onSettings = (payload: Buffer) => {
    for (let at = 0; at < payload.length; at += 6) {
      const id = payload.readUInt16BE(at);
      const value = payload.readUInt32BE(at + 2);
      if (id === Setting.HEADER_TABLE_SIZE) tableSizeUpdate = true;
      else if (id === Setting.ENABLE_PUSH && value > 1) {
        return fail(ErrorCode.PROTOCOL_ERROR, "ENABLE_PUSH > 1");
      } else if (id === Setting.INITIAL_WINDOW_SIZE) {
        if (value > MAX_WINDOW) return fail(ErrorCode.FLOW_CONTROL_ERROR, "INITIAL_WINDOW_SIZE too large");
        const delta = value - peerInitialWindow;
        peerInitialWindow = value;
        for (const s of streams.values()) {
          s.sendWindow += delta;
          if (s.sendWindow > MAX_WINDOW) return fail(ErrorCode.FLOW_CONTROL_ERROR, "a window past 2^31-1");
          if (s.sendWindow > 0 && (s.pendingBytes || s.ending || s.resetting)) ready.add(s);
        }
      } else if (id === Setting.MAX_FRAME_SIZE) {
        if (value < DEFAULT_MAX_FRAME || value > 0xff_ffff) {
          return fail(ErrorCode.PROTOCOL_ERROR, "MAX_FRAME_SIZE");
        }
        peerMaxFrame = value;
      }
    }
    send(frame(Type.SETTINGS, Flag.ACK, 0));
    pump();
  };

  const onWindowUpdate = (id: number, payload: Buffer) => {
    const increment = payload.readUInt32BE(0) & MAX_WINDOW;
    if (id === 0) {
      if (!increment) return fail(ErrorCode.PROTOCOL_ERROR, "WINDOW_UPDATE of 0");
      sendWindow += increment;
      if (sendWindow > MAX_WINDOW) return fail(ErrorCode.FLOW_CONTROL_ERROR, "connection window past 2^31-1");
      return pump();
    }
    const s = streams.get(id);
    if (!s) {
      if (id > lastStreamId) fail(ErrorCode.PROTOCOL_ERROR, "WINDOW_UPDATE on a stream never opened");
      return;
    }
    if (!increment) return refuseStream(s, ErrorCode.PROTOCOL_ERROR);
    s.sendWindow += increment;
    if (s.sendWindow > MAX_WINDOW) return refuseStream(s, ErrorCode.FLOW_CONTROL_ERROR);
    if (s.sendWindow > 0 && (s.pendingBytes || s.ending || s.resetting)) ready.add(s);
    pump();
  };

  /** One frame; false when the connection ended and nothing more is read. */
  const onFrame = (type: number, flags: number, id: number, payload: Buffer): boolean => {
    if (!settingsSeen && type !== Type.SETTINGS) {
      fail(ErrorCode.PROTOCOL_ERROR, "the first frame is not SETTINGS");
      return false;
    }
    if (block && type !== Type.CONTINUATION) {
      fail(ErrorCode.PROTOCOL_ERROR, "a frame inside a header block");
      return false;
    }
    const length = payload.length;
    const stripPadding = (p: Buffer): Buffer | undefined => {
      if (!(flags & Flag.PADDED)) return p;
      if (!p.length || p[0] >= p.length) return void fail(ErrorCode.PROTOCOL_ERROR, "padding past the frame");
      return p.subarray(1, p.length - p[0]);
    };
    switch (type) {
      case Type.DATA: {
        if (id === 0) return fail(ErrorCode.PROTOCOL_ERROR, "DATA on stream 0"), false;
        const data = stripPadding(payload);
        if (data) onData(id, flags, data, length);
        break;
      }
      case Type.HEADERS: {
        if (id === 0 || id % 2 === 0) {
          return fail(ErrorCode.PROTOCOL_ERROR, "HEADERS on a server's stream"), false;
        }
        let fragment = stripPadding(payload);
        if (!fragment) return false;
        if (flags & Flag.PRIORITY) {
          if (fragment.length < 5) return fail(ErrorCode.FRAME_SIZE_ERROR, "HEADERS too short"), false;
          fragment = fragment.subarray(5);
        }
        const endStream = (flags & Flag.END_STREAM) !== 0;
        if (flags & Flag.END_HEADERS) onHeaderBlock(id, endStream, fragment);
        else block = { stream: id, endStream, parts: [fragment], size: fragment.length };
        break;
      }
      case Type.CONTINUATION: {
        if (!block || block.stream !== id) {
          return fail(ErrorCode.PROTOCOL_ERROR, "CONTINUATION out of place"), false;
        }
        block.parts.push(payload);
        block.size += payload.length;
        if (block.size > MAX_HEADER_BLOCK) {
          return fail(ErrorCode.ENHANCE_YOUR_CALM, "header block too large"), false;
        }
        if (!payload.length && !(flags & Flag.END_HEADERS)) countFrame("idle");
        if (flags & Flag.END_HEADERS) {
          const whole = block;
          block = undefined;
          onHeaderBlock(whole.stream, whole.endStream, Buffer.concat(whole.parts));
        }
        break;
      }
      case Type.PRIORITY:
        if (id === 0) return fail(ErrorCode.PROTOCOL_ERROR, "PRIORITY on stream 0"), false;
        if (length !== 5) return fail(ErrorCode.FRAME_SIZE_ERROR, "PRIORITY not 5 octets"), false;
        countFrame("idle");
        break;
      case Type.RST_STREAM: {
        if (id === 0) return fail(ErrorCode.PROTOCOL_ERROR, "RST_STREAM on stream 0"), false;
        if (length !== 4) return fail(ErrorCode.FRAME_SIZE_ERROR, "RST_STREAM not 4 octets"), false;
        if (id > lastStreamId) {
          return fail(ErrorCode.PROTOCOL_ERROR, "RST_STREAM on a stream never opened"), false;
        }
        const s = streams.get(id);
        if (s) {
          s.localClosed = true;
          closeStream(s, false);
        }
        discarding.delete(id);
        // Only a reset that ends an open stream costs work (rapid reset). A client answers DATA still in flight
        // on a stream it has reset with more resets (RFC 9113 §5.1, "closed"): Rust's h2 (Deno's fetch, Codex)
        // sends about one and a half such a cancelled stream.
        countFrame(s ? "reset" : "idle");
        break;
      }
      case Type.SETTINGS:
        if (id !== 0) return fail(ErrorCode.PROTOCOL_ERROR, "SETTINGS on a stream"), false;
        if (flags & Flag.ACK) {
          if (length) return fail(ErrorCode.FRAME_SIZE_ERROR, "SETTINGS ACK with a payload"), false;
        } else {
          if (length % 6) {
            return fail(ErrorCode.FRAME_SIZE_ERROR, "SETTINGS not a multiple of 6 octets"), false;
          }
          settingsSeen = true;
          onSettings(payload);
        }
        countFrame("idle");
        break;
      case Type.PING:
        if (id !== 0) return fail(ErrorCode.PROTOCOL_ERROR, "PING on a stream"), false;
        if (length !== 8) return fail(ErrorCode.FRAME_SIZE_ERROR, "PING not 8 octets"), false;
        if (!(flags & Flag.ACK)) send(frame(Type.PING, Flag.ACK, 0, payload));
        else if (goawayTimer && payload.equals(GOAWAY_PING)) finalGoAway();
        countFrame("idle");
        break;
      case Type.GOAWAY:
        if (id !== 0) return fail(ErrorCode.PROTOCOL_ERROR, "GOAWAY on a stream"), false;
        peerGoaway = true;
        if (streams.size === 0) finishSocket();
        break;
      case Type.WINDOW_UPDATE:
        if (length !== 4) return fail(ErrorCode.FRAME_SIZE_ERROR, "WINDOW_UPDATE not 4 octets"), false;
        onWindowUpdate(id, payload);
        break;
      case Type.PUSH_PROMISE:
        return fail(ErrorCode.PROTOCOL_ERROR, "PUSH_PROMISE from a client"), false;
      default:
        countFrame("idle");
    }
    return !ending;
  };

  /** The whole size of the frame whose head starts at `at`; undefined once one too large ended the connection. */
  const frameSize = (bytes: Buffer, at: number): number | undefined => {
    const length = (bytes[at] << 16) | (bytes[at + 1] << 8) | bytes[at + 2];
    if (length > DEFAULT_MAX_FRAME) {
      return void fail(ErrorCode.FRAME_SIZE_ERROR, "a frame larger than allowed");
    }
    return FRAME_HEAD + length;
  };

  /**
   * Reads the whole frames at the start of `bytes`; returns what is left (a frame's start), or undefined once
   * a frame ended the reading.
   */
  const readWhole = (bytes: Buffer): Buffer | undefined => {
    let at = 0;
    while (bytes.length - at >= FRAME_HEAD && !ending) {
      const size = frameSize(bytes, at);
      if (size === undefined) return undefined;
      if (bytes.length - at < size) break;
      const type = bytes[at + 3];
      const flags = bytes[at + 4];
      const id = bytes.readUInt32BE(at + 5) & MAX_WINDOW;
      const payload = bytes.subarray(at + FRAME_HEAD, at + size);
      at += size;
      if (!onFrame(type, flags, id, payload)) return undefined;
    }
    return bytes.subarray(at);
  };

  /**
   * Completes the frame split between the last read and `data` from `data`'s first bytes; returns the rest of
   * `data`, or undefined while that frame is still incomplete or once it ended the reading. Only the split
   * frame is copied: the rest is read in place, so a large upload is not copied again as it is read (a copy is
   * garbage the daemon's collector must mark for).
   */
  const completeSplit = (data: Buffer): Buffer | undefined => {
    const missingHead = Math.max(0, FRAME_HEAD - input.length);
    const head = missingHead ? Buffer.concat([input, data.subarray(0, missingHead)]) : input;
    if (head.length < FRAME_HEAD) return void (input = head);
    const size = frameSize(head, 0);
    if (size === undefined) return undefined;
    const taken = Math.min(size - input.length, data.length);
    input = Buffer.concat([input, data.subarray(0, taken)]);
    if (input.length < size) return undefined;
    const frame = input;
    input = EMPTY;
    return readWhole(frame) && data.subarray(taken);
  };

  const readFrames = (data: Buffer) => {
    let bytes: Buffer | undefined = data;
    if (!prefaceSeen) {
      input = input.length ? Buffer.concat([input, data]) : data;
      if (input.length < PREFACE.length) return;
      if (!input.subarray(0, PREFACE.length).equals(PREFACE)) {
        return fail(ErrorCode.PROTOCOL_ERROR, "no preface");
      }
      prefaceSeen = true;
      bytes = input.subarray(PREFACE.length);
      input = EMPTY;
    } else if (input.length) bytes = completeSplit(data);
    const rest = bytes && readWhole(bytes);
    if (!rest) return;
    // What is left is a frame's start; the next read's bytes are joined to a copy, never to a buffer handed on.
    input = rest.length ? rest : EMPTY;
    flush();
  };

  // An error thrown while a read is handled (by this code or by the exchange it calls) ends this connection
  // with GOAWAY, not the daemon with every other client's connection.
  const onBytes = (data: Buffer) => {
    try {
      readFrames(data);
    } catch (e) {
      try {
        fail(ErrorCode.INTERNAL_ERROR, `an error in the daemon: ${(e as Error)?.message ?? e}`);
      } catch {
        socket.destroy();
      }
    }
  };

  socket.on("data", onBytes);
  // A reset or a write after the peer's FIN: the socket is closed and its close ends every stream.
  socket.on("error", () => socket.destroy());
  socket.on("drain", () => {
    pump();
    flush();
  });
  socket.once("close", () => {
    ending = true;
    idle.stop();
    clearTimeout(goawayTimer);
    if (headsTimer) clearImmediate(headsTimer);
    for (const s of streams.values()) closeStream(s, false);
    resolveClosed();
  });

  /**
   * A graceful shutdown in two steps (RFC 9113 §6.8): GOAWAY naming the largest stream there can be, so the
   * client opens no more, and a PING; once it comes back, every request the client sent before it has arrived,
   * and a second GOAWAY names the last of them. A request in flight as the drain starts is served, not refused.
   */
  const goAway = () => {
    if (goawaySent || goawayTimer || ending) return;
    send(goawayFrame(MAX_WINDOW, ErrorCode.NO_ERROR));
    send(frame(Type.PING, 0, 0, GOAWAY_PING));
    flush();
    goawayTimer = setTimeout(finalGoAway, GOAWAY_ROUND_TRIP_MS);
  };

  const finalGoAway = () => {
    clearTimeout(goawayTimer);
    goawayTimer = undefined;
    if (goawaySent || ending) return;
    goawaySent = true;
    send(goawayFrame(lastStreamId, ErrorCode.NO_ERROR));
    flush();
    if (streams.size === 0) finishSocket();
  };

  send(settingsFrame([
    [Setting.MAX_CONCURRENT_STREAMS, MAX_STREAMS],
    [Setting.INITIAL_WINDOW_SIZE, STREAM_WINDOW],
    [Setting.MAX_HEADER_LIST_SIZE, MAX_HEAD],
  ]));
  send(windowUpdateFrame(0, CONNECTION_WINDOW - DEFAULT_WINDOW));
  onBytes(EMPTY);
  socket.resume();

  return {
    goAway,
    destroy: () => socket.destroy(),
    closed,
  };
}

const EMPTY = Buffer.alloc(0);

/** A rate limit: `perSecond` a second on average, bursts of twice that (a token bucket). */
class Allowance {
  readonly #rate: number;
  #left: number;
  #at = performance.now();

  constructor(perSecond: number) {
    this.#rate = perSecond;
    this.#left = 2 * perSecond;
  }

  /** Takes one; false when none is left. */
  take(): boolean {
    const now = performance.now();
    this.#left = Math.min(2 * this.#rate, this.#left + (now - this.#at) * this.#rate / 1000);
    this.#at = now;
    if (this.#left < 1) return false;
    this.#left--;
    return true;
  }
}
