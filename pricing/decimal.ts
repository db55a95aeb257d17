/**
 * Exact decimal numbers for prices: a price such as `0.075` USD per million tokens is kept as the integer
 * `75` over `10^3`, never as a binary float, so that summing millions of tokens × rates never drifts and the
 * one rounding at the end is the only one.
 *
 * @module
 */

/** An exact decimal: `units / 10^scale`. Never negative (prices and token counts are not). */
export interface Decimal {
  readonly units: bigint;
  readonly scale: number;
}

/** The most fractional digits a price may carry; beyond it the text is refused rather than rounded. */
const MAX_SCALE = 24;

/**
 * Parses a decimal from text (`"0.075"`, `"15"`, `"1.25e-7"`) or from a number, using the number's shortest
 * round-trip text (`0.075` → `"0.075"`), which is what a person or a JSON file wrote.
 *
 * @throws {RangeError} when the value is not a finite number ≥ 0 or has more than 24 fractional digits.
 */
export function parseDecimal(value: string | number): Decimal {
  const text = typeof value === "number" ? String(value) : value.trim();
  const m = /^(\d+)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$|^\.(\d+)(?:[eE]([+-]?\d+))?$/.exec(text);
  if (!m) throw new RangeError(`not a price: ${JSON.stringify(text)}`);
  const whole = m[1] ?? "0";
  const fraction = m[2] ?? m[4] ?? "";
  const exponent = Number(m[3] ?? m[5] ?? 0);
  let units = BigInt(whole + fraction);
  let scale = fraction.length - exponent;
  if (scale < 0) {
    units *= 10n ** BigInt(-scale);
    scale = 0;
  }
  if (scale > MAX_SCALE) throw new RangeError(`price has too many decimal places: ${text}`);
  return normalize({ units, scale });
}

/** `a × b`, exactly. */
export function mulDecimal(a: Decimal, b: Decimal): Decimal {
  return normalize({ units: a.units * b.units, scale: a.scale + b.scale });
}

/** `a × 10^power`, exactly (converts per-token prices to per-million ones). */
export function shiftDecimal(a: Decimal, power: number): Decimal {
  const scale = a.scale - power;
  return scale >= 0
    ? normalize({ units: a.units, scale })
    : normalize({ units: a.units * 10n ** BigInt(-scale), scale: 0 });
}

/** The decimal as plain text without exponent or trailing zeros: `"0.075"`, `"15"`. */
export function formatDecimal(a: Decimal): string {
  if (a.scale === 0) return a.units.toString();
  const digits = a.units.toString().padStart(a.scale + 1, "0");
  return `${digits.slice(0, -a.scale)}.${digits.slice(-a.scale)}`;
}

/** The decimal as a JavaScript number (for SQLite REAL columns and JSON output; may round). */
export function decimalToNumber(a: Decimal): number {
  return Number(formatDecimal(a));
}

/** Drops trailing zero digits so that equal values have one representation. */
function normalize(a: Decimal): Decimal {
  let { units, scale } = a;
  while (scale > 0 && units % 10n === 0n) {
    units /= 10n;
    scale--;
  }
  return { units, scale };
}
