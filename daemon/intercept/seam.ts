/**
 * The seam between capture and metering: the intercept server announces each exchange with a metered host
 * when its response head arrives, then passes a copy of every response chunk as it flows to the client. The
 * metering layer decodes, parses, prices and stores; capture never waits for it.
 *
 * @module
 */

/** Header values as received; a repeated header keeps every value. Names are lower-case. */
export type HeaderMap = Record<string, string | string[]>;

/** Everything known about one exchange when its response head arrives (or the upstream failed). */
export interface ExchangeStart {
  /** The metered host (the CONNECT target's name, lower-case). */
  host: string;
  /** Path with query string, as sent. */
  path: string;
  method: string;
  /** `1.1` or `2`: what the client spoke to us. */
  httpVersion: string;
  /** Upstream HTTP status; 0 when no response came (connection refused, reset before the head, timeout). */
  status: number;
  /** When the request's head reached us. */
  startedAt: Date;
  /** Milliseconds from the request's head to the response's head. */
  headMs: number;
  /** The client's `ip:port` (from the edge's `x-halton-client`, else the peer of a direct connection). */
  client: string;
  /**
   * The project tag of attribution layer 0 (`x-halton-project` or proxy credentials); undefined when none.
   */
  project?: string;
  /**
   * Request headers as the client sent them, including credentials: for labelling billing and decoding only.
   * They must never be stored or logged.
   */
  requestHeaders: HeaderMap;
  /** Response headers as the upstream sent them (`content-encoding` tells how to decode the copy). */
  responseHeaders: HeaderMap;
  /** The request body received so far (all of it for ordinary requests), at most {@linkcode MAX_REQUEST_BODY}. */
  requestBody: Uint8Array;
  /** True when the request body was longer than what `requestBody` keeps. */
  requestBodyTruncated: boolean;
}

/** How an exchange ended, with the figures only known at the end. */
export interface ExchangeEnd {
  /** True when the whole response reached the client. */
  complete: boolean;
  /** Why it did not complete: `upstream reset`, `client closed`, an error message. Never content. */
  error?: string;
  /** Milliseconds from the request's head to the end of the response. */
  latencyMs: number;
  /** Milliseconds from the request's head to the first response body byte (the head when there was no body). */
  ttftMs: number | null;
  /** Request body bytes forwarded upstream. */
  requestBytes: number;
  /** Response body bytes forwarded to the client, as they went on the wire (still encoded). */
  responseBytes: number;
}

/** Receives one exchange's response bytes. Called on the data path: it must return quickly and never block. */
export interface ExchangeObserver {
  onResponseChunk(chunk: Uint8Array): void;
  onEnd(outcome: ExchangeEnd): void;
}

/** The metering layer's entry point: return an observer for exchanges it wants, undefined for the rest. */
export interface MeteringHook {
  /** A client connected for a metered host (`ip:port`, and its project tag if any): before any request. */
  connect?(client: string, project?: string): void;
  begin(exchange: ExchangeStart): ExchangeObserver | undefined;
  /** True when `method path` on `host` is a metered call (so a WebSocket there is worth reading). */
  meters?(host: string, method: string, path: string): boolean;
  /** Resolves when every ended exchange has been handed on (its row queued); the daemon awaits it at close. */
  drain?(): Promise<void>;
}

/** How much of a request body is kept for the hook (metered request bodies are small JSON). */
export const MAX_REQUEST_BODY = 1024 * 1024;

/**
 * Wraps a hook so that nothing it throws reaches the data path: a failing `begin` yields no observer, and an
 * observer whose `onResponseChunk` throws gets no more chunks but is still told the end (so its row is written,
 * as incomplete as it is). `onError` is told, for the log.
 */
export function guardHook(
  hook: MeteringHook,
  onError: (stage: string, error: unknown) => void,
): MeteringHook {
  return {
    drain: () => hook.drain?.() ?? Promise.resolve(),
    meters(host, method, path) {
      try {
        return hook.meters?.(host, method, path) ?? false;
      } catch (e) {
        onError("meters", e);
        return false;
      }
    },
    connect(client, project) {
      try {
        hook.connect?.(client, project);
      } catch (e) {
        onError("connect", e);
      }
    },
    begin(exchange) {
      let inner: ExchangeObserver | undefined;
      try {
        inner = hook.begin(exchange);
      } catch (e) {
        onError("begin", e);
        return undefined;
      }
      if (!inner) return undefined;
      let failed = false;
      const observer = inner;
      return {
        onResponseChunk(chunk) {
          if (failed) return;
          try {
            observer.onResponseChunk(chunk);
          } catch (e) {
            failed = true;
            onError("chunk", e);
          }
        },
        onEnd(outcome) {
          try {
            observer.onEnd(outcome);
          } catch (e) {
            onError("end", e);
          }
        },
      };
    },
  };
}
