/**
 * Clients under load through the edge, for the restart, kill and hang tests: keep-alive clients (one pooled
 * `Deno.HttpClient` each, the way an editor or agent keeps its connections), fresh-connection clients (a new
 * client per call) and streaming clients, each tagged with its own project through the proxy credentials so
 * that its rows can be told apart. Every call is recorded with when it started and ended and how it went.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";

/** One call a client made. */
export interface Call {
  client: string;
  /** Wall-clock ms. */
  started: number;
  ended: number;
  ok: boolean;
  error?: string;
}

/** What the clients need to reach the meter. */
export interface TrafficTarget {
  edgePort: number;
  /** The meter's CA and the fake's: a tunnel straight to the fake shows the fake's certificate. */
  caCerts: string[];
  /** A metered host resolved to the fake. */
  host: string;
}

/** A running set of clients; `stop()` ends their loops and resolves with every call. */
export interface Traffic {
  calls: Call[];
  stop(): Promise<Call[]>;
}

/** Kinds of client: `slow` keeps its connection like `keepalive`, and each answer takes `slowMs`. */
export type ClientKind = "keepalive" | "fresh" | "stream" | "slow";

/** Options of {@linkcode startTraffic}: how many of each kind, and the pause between calls. */
export interface TrafficOptions {
  keepalive?: number;
  fresh?: number;
  stream?: number;
  slow?: number;
  thinkMs?: number;
  /** How long the provider thinks before each answer to a `slow` client (default 1.5 s). */
  slowMs?: number;
  /** SSE events per streamed call, and the pause between them. */
  streamEvents?: number;
  streamGapMs?: number;
}

const BODY = JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] });

/** Starts the clients; see the module doc. */
export function startTraffic(target: TrafficTarget, options: TrafficOptions): Traffic {
  const calls: Call[] = [];
  let running = true;
  const clientFor = (name: string) =>
    Deno.createHttpClient({
      proxy: { url: `http://${name}:@127.0.0.1:${target.edgePort}` },
      caCerts: target.caCerts,
    });
  const once = async (name: string, client: Deno.HttpClient, kind: ClientKind) => {
    const started = Date.now();
    const url = kind === "stream"
      ? `https://${target.host}/v1/responses?fixture=openai_responses_stream.sse&gap=${
        options.streamGapMs ?? 100
      }&deltas=${options.streamEvents ?? 10}`
      : kind === "slow"
      ? `https://${target.host}/v1/chat/completions?delay_ms=${options.slowMs ?? 1500}`
      : `https://${target.host}/v1/chat/completions`;
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: BODY,
        client,
        signal: AbortSignal.timeout(60_000),
      });
      const text = await res.text();
      const ok = res.status === 200 && text.length > 0;
      calls.push({
        client: name,
        started,
        ended: Date.now(),
        ok,
        error: ok ? undefined : `status ${res.status}`,
      });
    } catch (e) {
      calls.push({
        client: name,
        started,
        ended: Date.now(),
        ok: false,
        error: `${(e as Error).message} ${(e as Error).cause ?? ""}`,
      });
    }
  };
  const loop = async (name: string, kind: ClientKind) => {
    let client = kind === "fresh" ? undefined : clientFor(name);
    while (running) {
      const c = client ?? clientFor(name);
      await once(name, c, kind);
      if (!client) c.close();
      if (running) await new Promise((r) => setTimeout(r, options.thinkMs ?? 20));
    }
    client?.close();
    client = undefined;
  };
  const loops: Promise<void>[] = [];
  const kinds: [ClientKind, number][] = [
    ["keepalive", options.keepalive ?? 0],
    ["fresh", options.fresh ?? 0],
    ["stream", options.stream ?? 0],
    ["slow", options.slow ?? 0],
  ];
  for (const [kind, n] of kinds) for (let i = 0; i < n; i++) loops.push(loop(`${kind}-${i}`, kind));
  return {
    calls,
    async stop() {
      running = false;
      await Promise.all(loops);
      return calls;
    },
  };
}

/** A stored row's project and time. */
export interface RowSeen {
  project: string;
  /** Wall-clock ms. */
  at: number;
}

/** Every row of `home`'s database with its project slug, oldest first. */
export function rowsSeen(home: string): RowSeen[] {
  const db = new DatabaseSync(join(home, "db.sqlite"), { readOnly: true });
  try {
    const rows = db.prepare(
      `SELECT p.slug AS project, r.requested_at AS at FROM requests r JOIN projects p ON p.id = r.project_id
        ORDER BY r.requested_at`,
    ).all() as { project: string; at: string }[];
    return rows.map((r) => ({ project: r.project, at: Date.parse(r.at) }));
  } finally {
    db.close();
  }
}

/** One line per failed call, for an assertion message; times in ms after `since` when given. */
export function describeFailures(calls: readonly Call[], since = 0): string {
  return calls.filter((c) => !c.ok).map((c) => `${c.client} @${c.started - since}: ${c.error}`).join("\n");
}
