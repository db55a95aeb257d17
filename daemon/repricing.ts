/**
 * Pricing calls that were stored without a cost once rates for them appear: at start (after an upgrade
 * brings a newer card), when the bundled data package is loaded, and whenever `pricing_rates` changes (an
 * import or update run while the daemon is up). The daemon's rate book is rebuilt then too, so new calls are
 * priced from the same rates. The package is a large module: it is loaded only once a call or a stored row
 * names a model nothing else prices, so a daemon whose calls the card covers never pays for it. The work runs
 * in small transactions on the writer's own connection, yielding between them, so metered calls are never
 * held up for long.
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
  /**
   * Builds the book from the card, the table and config as they are now, with the package once loaded;
   * `onMiss` must be passed on to it ({@linkcode RateBookSources.onMiss}).
   */
  build: (pkg: PackageRates | undefined, onMiss: () => void) => RateBook;
  /** Loads the data package. */
  loadPackage?: () => Promise<PackageRates>;
  log: Logger;
  /** How often `pricing_rates` is looked at for changes. */
  intervalMs?: number;
  /** How long after the package is loaded the calls it can price are priced: the writer's queue drains first. */
  settleMs?: number;
}

/** Keeps the daemon's rate book current and prices unpriced calls when rates appear. */
export class Repricer {
  readonly #options: RepricerOptions;
  #book: RateBook;
  #package?: PackageRates;
  #packageWanted = false;
  #seen: string;
  #timer?: ReturnType<typeof setInterval>;
  #settle?: ReturnType<typeof setTimeout>;
  /** Every pass runs after the one before it. */
  #chain: Promise<void> = Promise.resolve();
  #closed = false;

  /** Builds the first book; call {@linkcode start} to begin the background work. */
  constructor(options: RepricerOptions) {
    this.#options = options;
    this.#book = this.#build();
    this.#seen = this.#fingerprint();
  }

  /** The rate book in use. */
  get book(): RateBook {
    return this.#book;
  }

  /** Prices what the current book can now price, then watches `pricing_rates` for changes. */
  start(): void {
    this.#enqueue(async () => {
      const r = await this.#reprice("start");
      if (r && r.unpriced) this.#wantPackage();
    });
    this.#timer = setInterval(() => {
      let now: string;
      try {
        now = this.#fingerprint();
      } catch (e) {
        this.#options.log.warn("pricing.watch_failed", { error: (e as Error).message });
        return;
      }
      if (now === this.#seen) return;
      this.#seen = now;
      this.#enqueue(async () => {
        this.#book = this.#build();
        await this.#reprice("rates_changed");
      });
    }, this.#options.intervalMs ?? 60_000);
  }

  /** Stops watching and waits for a pass under way (it stops at its next batch). */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    clearTimeout(this.#settle);
    await this.#chain;
  }

  /** A call or a stored row named a model nothing priced: load the package, once. */
  #wantPackage(): void {
    if (this.#packageWanted || !this.#options.loadPackage || this.#closed) return;
    this.#packageWanted = true;
    this.#enqueue(async () => {
      try {
        this.#package = await this.#options.loadPackage!();
      } catch (e) {
        this.#options.log.error("pricing.package_failed", { error: (e as Error).message });
        return;
      }
      this.#book = this.#build();
      // Calls priced by the old book may still sit in the writer's queue: price them once they are stored.
      this.#settle = setTimeout(
        () => this.#enqueue(async () => void await this.#reprice("package_loaded")),
        this.#options.settleMs ?? 1000,
      );
    });
  }

  #enqueue(task: () => Promise<void>): void {
    this.#chain = this.#chain.then(() => this.#closed ? undefined : task()).catch((e) =>
      this.#options.log.error("pricing.reprice_failed", { error: (e as Error).message })
    );
  }

  #build(): RateBook {
    try {
      return this.#options.build(this.#package, () => this.#wantPackage());
    } catch (e) {
      this.#options.log.error("pricing.rebuild_failed", { error: (e as Error).message });
      return this.#book;
    }
  }

  async #reprice(reason: string) {
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
      return r;
    } catch (e) {
      if (e instanceof Closed) return undefined;
      throw e;
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
