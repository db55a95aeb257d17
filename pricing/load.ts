/**
 * The rate book of this machine, built the way the daemon builds it: the card, the `pricing_rates` table,
 * `[[pricing.override]]` from config, and the bundled data package under them all.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import type { PriceOverride } from "../core/config.ts";
import { MeterError } from "../core/errors.ts";
import { buildRateBook, type RateBook } from "./book.ts";
import { bundledCard, bundledFees } from "./card.ts";
import type { PackageRates } from "./package.ts";
import { readStoredRates } from "./store.ts";

/**
 * The book from `db`'s stored rates (none when there is no database), config's overrides and the package.
 *
 * @throws {MeterError} when an override holds a price that cannot be used; `configFile` is named in the hint.
 */
export function machineRateBook(
  db: DatabaseSync | undefined,
  overrides: readonly PriceOverride[],
  configFile: string,
  pkg: PackageRates,
): RateBook {
  try {
    return buildRateBook({
      card: bundledCard(),
      fees: bundledFees(),
      stored: db ? readStoredRates(db) : [],
      overrides,
      package: pkg,
    });
  } catch (e) {
    throw new MeterError(`a price in [[pricing.override]] cannot be used: ${(e as Error).message}`, {
      hint: `Fix ${configFile}: prices are plain numbers of USD per million tokens.`,
    });
  }
}
