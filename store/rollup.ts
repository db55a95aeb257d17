/**
 * Adding stored calls to the rollups: daily (`daily_usage`, migration 0003) and hourly (`hourly_usage`,
 * migration 0005, for days of any time zone). The writer sums the calls of a
 * flush per group in memory and writes one upsert per group, inside the flush's transaction: a few statements
 * per flush instead of an upsert per call from a trigger, which measured as a third of the cost of storing a
 * call (migration 0004 drops that trigger). Updates and deletes keep their triggers: they are rare
 * (`pricing recost`) and go call by call anyway.
 *
 * @module
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { UsageRow } from "./rows.ts";

/** What a call adds to its group (its project comes apart, as the stored project id). */
export type RollupCall = Pick<
  UsageRow,
  | "requested_at"
  | "provider"
  | "model"
  | "input_tokens"
  | "output_tokens"
  | "thinking_tokens"
  | "cache_read_tokens"
  | "cache_write_5m_tokens"
  | "cache_write_1h_tokens"
  | "cost_usd_minor_units"
  | "tokens_complete"
  | "status"
  | "billing"
>;

/** The two rollups: the table and how many characters of `requested_at` name its period. */
const ROLLUPS = [
  { table: "daily_usage", period: "day", chars: 10 },
  { table: "hourly_usage", period: "hour", chars: 13 },
] as const;

interface Group {
  rollup: typeof ROLLUPS[number];
  /** The period: `requested_at`'s first 10 (day) or 13 (hour) characters. */
  at: string;
  project_id: string;
  provider: string;
  model: string | null;
  requests: number;
  input: number;
  output: number;
  thinking: number;
  cacheRead: number;
  write5m: number;
  write1h: number;
  millicents: number;
  unknownCost: number;
  incomplete: number;
  errors: number;
  unknownTokens: number;
  subscriptionRequests: number;
  subscriptionCost: number;
}

// The same arithmetic as the backfills and update triggers of migrations 0003, 0005 and 0007, with the sums
// as parameters.
const upsertSql = (table: string, period: string) =>
  `INSERT INTO ${table} (${period}, project_id, provider, model, requests, input_tokens, output_tokens,
    thinking_tokens, cache_read_tokens, cache_write_tokens, cache_write_5m_tokens, cache_write_1h_tokens,
    cost_usd_minor_units, unknown_cost_requests, incomplete_requests, error_requests, unknown_cost_tokens,
    subscription_requests, subscription_cost_usd_minor_units)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (${period}, project_id, provider, model IS NULL, ifnull(model, '')) DO UPDATE SET
    requests = requests + excluded.requests,
    input_tokens = input_tokens + excluded.input_tokens,
    output_tokens = output_tokens + excluded.output_tokens,
    thinking_tokens = thinking_tokens + excluded.thinking_tokens,
    cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
    cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens,
    cache_write_5m_tokens = cache_write_5m_tokens + excluded.cache_write_5m_tokens,
    cache_write_1h_tokens = cache_write_1h_tokens + excluded.cache_write_1h_tokens,
    cost_usd_minor_units = cost_usd_minor_units + excluded.cost_usd_minor_units,
    unknown_cost_requests = unknown_cost_requests + excluded.unknown_cost_requests,
    incomplete_requests = incomplete_requests + excluded.incomplete_requests,
    error_requests = error_requests + excluded.error_requests,
    unknown_cost_tokens = unknown_cost_tokens + excluded.unknown_cost_tokens,
    subscription_requests = subscription_requests + excluded.subscription_requests,
    subscription_cost_usd_minor_units = subscription_cost_usd_minor_units + excluded.subscription_cost_usd_minor_units`;

/** Sums of newly stored calls, per UTC day and per UTC hour, project, provider and model, until written. */
export class RollupSums {
  readonly #db: DatabaseSync;
  readonly #groups = new Map<string, Group>();
  readonly #upserts = new Map<string, StatementSync>();

  /** Sums to be written to `db`'s `daily_usage` and `hourly_usage`. */
  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** Adds one call of project `projectId` that was just inserted (not one an `INSERT OR IGNORE` skipped). */
  add(call: RollupCall, projectId: string): void {
    for (const rollup of ROLLUPS) {
      const at = call.requested_at.slice(0, rollup.chars);
      // NULL and '' are different models (migration 0003): the marker before the name keeps them apart.
      const key = `${rollup.period}\u0000${at}\u0000${projectId}\u0000${call.provider}\u0000${
        call.model === null ? "-" : `+${call.model}`
      }`;
      let g = this.#groups.get(key);
      if (!g) {
        g = {
          rollup,
          at,
          project_id: projectId,
          provider: call.provider,
          model: call.model,
          requests: 0,
          input: 0,
          output: 0,
          thinking: 0,
          cacheRead: 0,
          write5m: 0,
          write1h: 0,
          millicents: 0,
          unknownCost: 0,
          incomplete: 0,
          errors: 0,
          unknownTokens: 0,
          subscriptionRequests: 0,
          subscriptionCost: 0,
        };
        this.#groups.set(key, g);
      }
      g.requests++;
      g.input += call.input_tokens;
      g.output += call.output_tokens;
      g.thinking += call.thinking_tokens;
      g.cacheRead += call.cache_read_tokens;
      g.write5m += call.cache_write_5m_tokens;
      g.write1h += call.cache_write_1h_tokens;
      if (call.cost_usd_minor_units === null) {
        g.unknownCost++;
        g.unknownTokens += call.input_tokens + call.output_tokens + call.cache_read_tokens +
          call.cache_write_5m_tokens + call.cache_write_1h_tokens;
      } else g.millicents += call.cost_usd_minor_units;
      if (call.billing === "subscription") {
        g.subscriptionRequests++;
        g.subscriptionCost += call.cost_usd_minor_units ?? 0;
      }
      if (!call.tokens_complete) g.incomplete++;
      if (call.status === "error") g.errors++;
    }
  }

  /** Forgets the sums (their transaction was rolled back). */
  clear(): void {
    this.#groups.clear();
  }

  /** Adds the sums to both rollups (inside the caller's transaction) and starts over empty. */
  writeTo(): void {
    if (!this.#groups.size) return;
    for (const g of this.#groups.values()) {
      // Prepared on first use, once per table: every flush writes through the same two statements.
      let upsert = this.#upserts.get(g.rollup.table);
      if (!upsert) {
        upsert = this.#db.prepare(upsertSql(g.rollup.table, g.rollup.period));
        this.#upserts.set(g.rollup.table, upsert);
      }
      upsert.run(
        g.at,
        g.project_id,
        g.provider,
        g.model,
        g.requests,
        g.input,
        g.output,
        g.thinking,
        g.cacheRead,
        g.write5m + g.write1h,
        g.write5m,
        g.write1h,
        g.millicents,
        g.unknownCost,
        g.incomplete,
        g.errors,
        g.unknownTokens,
        g.subscriptionRequests,
        g.subscriptionCost,
      );
    }
    this.#groups.clear();
  }
}
