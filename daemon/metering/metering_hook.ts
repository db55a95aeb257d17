/**
 * The metering hook: for each exchange with a metered path it starts the client's attribution, feeds a copy
 * of the response through the provider's parser, and at the end prices the usage and queues one row (a body
 * that tells calls billed apart from it, a batch's results or a background response: one per call, keyed by
 * the call, and none for the exchange itself). Nothing
 * here blocks the data path: parsing is incremental, attribution and decoding finish asynchronously, and the
 * row goes to the writer's in-memory queue.
 *
 * @module
 */
import type { Logger } from "../../core/log.ts";
import { createUsageParser, detectBilling, findShape, type HostShape } from "../providers/mod.ts";
import { costOf, type RateBook } from "../../pricing/mod.ts";
import type { Attribution } from "../attribution/mod.ts";
import type { UsageRow } from "../../store/rows.ts";
import { type ErrorClass, type KeyedCall, tokenCounts, type Usage } from "../../core/usage.ts";
import { uuid7 } from "../../store/ids.ts";
import type { ExchangeEnd, ExchangeStart, MeteringHook } from "../intercept/seam.ts";

/** Where rows go: the daemon's `RowWriter`. */
export interface RowSink {
  enqueue(row: UsageRow): void;
}

/** What the hook needs, passed in so tests can give fakes. */
export interface MeteringDeps {
  sink: RowSink;
  /** The rate book, read each time so a rebuilt book takes effect for the next row. */
  rates: () => RateBook;
  /** Resolves the project of a client connection (cached per connection by the attributor). */
  attribute(
    client: { ip: string; port: number; explicitProject?: string; fresh?: boolean },
  ): Promise<Attribution>;
  /** Extra metered hosts from config `[hosts]`. */
  extraHosts?: Record<string, HostShape>;
  log?: Logger;
  /** Told when a row has been queued (tests and the bench wait on it). */
  onRow?: (row: UsageRow) => void;
}

/** Keyed rows made in one turn of the event loop: about 5 ms of work. */
const KEYED_SLICE = 500;

/** Builds the hook the intercept server calls for every exchange with a metered host. */
export function createMeteringHook(deps: MeteringDeps): MeteringHook {
  // Rows still being decoded or attributed; the daemon waits for them before its last flush.
  const pending = new Set<Promise<void>>();
  // What each attribution promise settled to. The attributor hands every call on a connection the same
  // promise, so once it settled, a call whose body is parsed too becomes its row in the same turn: no promise
  // per call, and the call's objects die young instead of waiting a turn for a microtask.
  const settled = new WeakMap<Promise<Attribution>, Attribution | null>();
  const attribute = (client: string, explicitProject?: string, fresh = false): Promise<Attribution> => {
    const who = deps.attribute({ ...splitAddress(client), explicitProject, ...(fresh ? { fresh } : {}) });
    if (!settled.has(who)) {
      settled.set(who, null);
      who.then((a) => settled.set(who, a), () => {});
    }
    return who;
  };
  const queue = (row: UsageRow) => {
    deps.sink.enqueue(row);
    deps.onRow?.(row);
  };
  const failed = (host: string, e: unknown) =>
    deps.log?.error("metering.failed", { host, error: (e as Error)?.message ?? String(e) });
  const track = (host: string, work: Promise<void>) => {
    const done: Promise<void> = work.catch((e) => failed(host, e)).finally(() => pending.delete(done));
    pending.add(done);
  };
  return {
    async drain() {
      while (pending.size) await Promise.all(pending);
    },
    connect(client, project) {
      // The attributor caches per connection; begin() then finds the lookup already under way or done.
      attribute(client, project, true);
    },
    meters: (host, method, path) => findShape(host, method, path, deps.extraHosts) !== undefined,
    begin(x: ExchangeStart) {
      const shape = findShape(x.host, x.method, x.path, deps.extraHosts);
      if (!shape) return undefined;
      const billing = detectBilling(x.host, x.requestHeaders);
      const contentType = String(first(x.responseHeaders["content-type"]) ?? "").toLowerCase();
      const parser = createUsageParser(shape, {
        host: x.host,
        path: x.path,
        method: x.method,
        status: x.status,
        contentType,
        // Read only if a parser asks (a missing model or content type): joining a large body costs a copy.
        get requestBody() {
          return x.requestBody;
        },
      }, first(x.responseHeaders["content-encoding"]));
      const attribution = attribute(x.client, x.project);
      const streamed = contentType.includes("text/event-stream") || /stream/i.test(x.path);
      return {
        onResponseChunk: (chunk) => parser.push(chunk),
        onEnd(end) {
          const usage = parser.finish(end.complete);
          const who = settled.get(attribution);
          // A batch's results hold up to 100,000 calls: their rows are made a slice per turn of the event loop,
          // so the streams this thread forwards meanwhile, and the writer's flushes, go on in between.
          const queueKeyed = (
            items: KeyedCall[],
            w: Attribution,
            from: number,
          ): Promise<void> | undefined => {
            const to = Math.min(items.length, from + KEYED_SLICE);
            for (let i = from; i < to; i++) {
              queue(keyedRow(x, items[i], w, shape.provider, billing, deps.rates()));
            }
            return to < items.length
              ? new Promise((r) => setTimeout(r, 0)).then(() => queueKeyed(items, w, to))
              : undefined;
          };
          const queueRows = (u: Usage, w: Attribution): Promise<void> | undefined => {
            if (u.items) return queueKeyed(u.items, w, 0);
            queue(buildRow(x, end, u, w, shape.provider, billing, streamed, deps.rates()));
            return undefined;
          };
          if (who && !(usage instanceof Promise)) {
            try {
              const rest = queueRows(usage, who);
              if (rest) track(x.host, rest);
            } catch (e) {
              failed(x.host, e);
            }
            return;
          }
          track(x.host, Promise.all([usage, attribution]).then(([u, w]) => queueRows(u, w)));
        },
      };
    },
  };
}

/** The row for one finished exchange: a pure function of what capture, the parser and attribution learned. */
export function buildRow(
  x: ExchangeStart,
  end: ExchangeEnd,
  usage: Usage,
  who: Attribution,
  provider: string,
  billing: "api" | "subscription",
  streamed: boolean,
  rates: RateBook,
): UsageRow {
  const cost = costOf(provider, usage, rates);
  // A client that hangs up right after the stream's terminal event lost nothing: the call is whole.
  const whole = end.complete || usage.ended === true;
  const errorClass = usage.error?.error_class ?? transportError(x.status, whole, end.error);
  return {
    id: uuid7(x.startedAt.getTime()),
    requested_at: x.startedAt.toISOString(),
    project: who.project,
    provider,
    model: usage.model,
    mode: usage.thinking_tokens > 0 ? "thinking" : "standard",
    ...tokenCounts(usage),
    cost_usd_minor_units: cost.millicents,
    rates_source: cost.rates_source,
    latency_ms: Math.round(end.latencyMs),
    ttft_ms: end.ttftMs === null ? null : Math.round(end.ttftMs),
    tokens_complete: usage.tokens_complete && whole,
    status: errorClass ? "error" : "success",
    billing,
    attribution_layer: who.layer,
    client_process: who.client_process,
    host: x.host,
    path: x.path.split("?")[0],
    http_status: x.status || null,
    error_class: errorClass,
    provider_error_code: usage.error?.provider_error_code ?? null,
    request_bytes: end.requestBytes,
    response_bytes: end.responseBytes,
    streamed,
  };
}

/**
 * The row of a call billed apart from the exchange that told its usage (a request of a batch, a response run
 * in the background): its id is the call's own, so reading the same usage again writes nothing new. It is
 * dated when the usage was read, and has no latency or sizes of its own.
 */
export function keyedRow(
  x: ExchangeStart,
  item: KeyedCall,
  who: Attribution,
  provider: string,
  billing: "api" | "subscription",
  rates: RateBook,
): UsageRow {
  const whole: ExchangeEnd = {
    complete: true,
    latencyMs: 0,
    ttftMs: null,
    requestBytes: 0,
    responseBytes: 0,
  };
  return {
    ...buildRow(x, whole, item.usage, who, provider, billing, false, rates),
    id: `${provider}-${item.key}`,
    latency_ms: null,
    request_bytes: null,
    response_bytes: null,
  };
}

/** The error class when the provider's body said nothing: from the status, or how the transfer ended. */
function transportError(status: number, whole: boolean, error: string | undefined): ErrorClass | null {
  if (status === 0) return /timed? ?out/i.test(error ?? "") ? "timeout" : "network";
  if (status === 429) return "rate_limit";
  if (status === 401 || status === 403) return "auth";
  if (status === 408 || status === 504) return "timeout";
  if (status >= 500) return "server_error";
  if (status >= 400) return "bad_request";
  return whole ? null : "network";
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** `1.2.3.4:5678` or `[::1]:5678` → ip and port. */
export function splitAddress(address: string): { ip: string; port: number } {
  const colon = address.lastIndexOf(":");
  const host = address.slice(0, colon);
  const ip = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  return { ip, port: Number(address.slice(colon + 1)) || 0 };
}
