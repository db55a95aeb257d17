/**
 * Storing calls: the insert of a {@linkcode UsageRow} and its share of the daily rollup, for every writer of
 * `requests` (the daemon's writer and the seed script), so that none can forget the rollup.
 *
 * @module
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { ROW_COLUMNS, type UsageRow } from "./rows.ts";
import { RollupSums } from "./rollup.ts";

/** Inserts calls inside the caller's transaction; {@linkcode CallInserter.beforeCommit} adds them up. */
export class CallInserter {
  readonly #insert: StatementSync;
  readonly #rollup: RollupSums;

  constructor(db: DatabaseSync) {
    this.#rollup = new RollupSums(db);
    this.#insert = db.prepare(
      `INSERT OR IGNORE INTO requests (project_id, cache_write_tokens, ${
        ROW_COLUMNS.join(", ")
      }) VALUES (?, ?, ${ROW_COLUMNS.map(() => "?").join(", ")})`,
    );
  }

  /** Inserts `row` under the stored project `projectId`; false when its id was stored already (nothing changed). */
  insert(row: UsageRow, projectId: string): boolean {
    const values = ROW_COLUMNS.map((c) => {
      const v = row[c];
      return typeof v === "boolean" ? (v ? 1 : 0) : v;
    });
    const { changes } = this.#insert.run(
      projectId,
      row.cache_write_5m_tokens + row.cache_write_1h_tokens,
      ...values,
    );
    if (Number(changes) === 0) return false;
    this.#rollup.add(row, projectId);
    return true;
  }

  /** Adds the calls inserted since the last commit to `daily_usage`; call it just before `COMMIT`. */
  beforeCommit(): void {
    this.#rollup.writeTo();
  }

  /** Forgets the calls inserted since the last commit: their transaction was rolled back. */
  afterRollback(): void {
    this.#rollup.clear();
  }
}
