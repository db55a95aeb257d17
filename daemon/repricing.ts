/**
 * Pricing calls that were stored without a cost once rates for them appear: at start (after an upgrade
 * brings a newer card or data package) and whenever `pricing_rates` changes (an import or update run while
 * the daemon is up). The daemon's rate book is rebuilt then too, so new calls are priced from the same
 * rates. The work runs in small transactions on the writer's own connection, yielding between them, so
 * metered calls are never held up for long.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import type { Logger } from "../core/log.ts";
import type { PackageRates } from "../pricing/mod.ts";
import { type RateBook, recostUnpriced } from "../pricing/mod.ts";

/** What a {@linkcode Repricer} needs. */
export interface RepricerOptions {
  db: DatabaseSync;
  /** Builds the book from the card, the table and config as they are now, and the package once it is loaded. */
  build: (pkg?: PackageRates) => RateBook;
  /** Loads the data package (a large module): done after start, so the daemon does not wait for it. */
  loadPackage?: () => Promise<PackageRates>;
  log: Logger;
  /** How often `pricing_rates` is looked at for changes. */
  intervalMs?: number;
}

/** Keeps the daemon's rate book current and prices unpriced calls when rates appear. */
export class Repricer {
  readonly #options: RepricerOptions;
  #book: RateBook;
  #package?: PackageRates;
  #seen: string;
  #timer?: ReturnType<typeof setInterval>;
  #running?: Promise<void>;
  #closed = false;

  /** Builds the first book; call {@linkcode start} to begin the background work. */
  constructor(options: RepricerOptions) {
    this.#options = options;
    this.#book = options.build();
    this.#seen = this.#fingerprint();
  }

  /** The rate book in use. */
  get book(): RateBook {
    return this.#book;
  }

  /**
   * Loads the package, then prices what the book can now price (calls metered before the package was loaded
   * included), then watches `pricing_rates` for changes.
   */
  start(): void {
    this.#running = (async () => {
      if (this.#options.loadPackage) {
        try {
          this.#package = await this.#options.loadPackage();
          this.#book = this.#options.build(this.#package);
        } catch (e) {
          this.#options.log.error("pricing.package_failed", { error: (e as Error).message });
        }
      }
      if (!this.#closed) await this.#reprice("start");
    })();
    this.#timer = setInterval(() => {
      if (this.#running || this.#closed) return;
      let now: string;
      try {
        now = this.#fingerprint();
      } catch (e) {
        this.#options.log.warn("pricing.watch_failed", { error: (e as Error).message });
        return;
      }
      if (now === this.#seen) return;
      this.#seen = now;
      try {
        this.#book = this.#options.build(this.#package);
      } catch (e) {
        this.#options.log.error("pricing.rebuild_failed", { error: (e as Error).message });
        return;
      }
      this.#running = this.#reprice("rates_changed");
    }, this.#options.intervalMs ?? 60_000);
  }

  /** Stops watching and waits for a pass under way (it stops at its next batch). */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#running;
  }

  async #reprice(reason: string): Promise<void> {
    const started = performance.now();
    try {
      const r = await recostUnpriced(this.#options.db, this.#book, {
        between: () => {
          if (this.#closed) throw new Closed();
          return new Promise((resolve) => setTimeout(resolve, 0));
        },
      });
      if (r.examined) {
        this.#options.log.info("pricing.repriced", {
          reason,
          examined: r.examined,
          priced: r.changed,
          still_unpriced: r.unpriced,
          ms: Math.round(performance.now() - started),
        });
      }
    } catch (e) {
      if (!(e instanceof Closed)) {
        this.#options.log.error("pricing.reprice_failed", { error: (e as Error).message });
      }
    } finally {
      this.#running = undefined;
    }
  }

  #fingerprint(): string {
    const r = this.#options.db.prepare("SELECT count(*) AS n, max(created_at) AS at FROM pricing_rates")
      .get() as {
        n: number;
        at: string | null;
      };
    return `${r.n}:${r.at}`;
  }
}

class Closed extends Error {}
