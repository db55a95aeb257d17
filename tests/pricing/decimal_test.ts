import assert from "node:assert/strict";
import { formatDecimal, parseDecimal } from "../../pricing/decimal.ts";
import { shiftDecimal } from "../../pricing/decimal.ts";

Deno.test("parseDecimal() keeps prices exact, whatever their notation", () => {
  assert.equal(formatDecimal(parseDecimal("0.075")), "0.075");
  assert.equal(formatDecimal(parseDecimal(0.075)), "0.075");
  assert.equal(formatDecimal(parseDecimal("12.50")), "12.5");
  assert.equal(formatDecimal(parseDecimal(1.25e-7)), "0.000000125");
  assert.equal(formatDecimal(parseDecimal("3E2")), "300");
});

Deno.test("shiftDecimal() turns a per-token price into a per-million one without rounding", () => {
  assert.equal(formatDecimal(shiftDecimal(parseDecimal(1.25e-7), 6)), "0.125");
  assert.equal(formatDecimal(shiftDecimal(parseDecimal(3e-6), 6)), "3");
  assert.equal(formatDecimal(shiftDecimal(parseDecimal("0.0000275"), 6)), "27.5");
});

Deno.test("parseDecimal() refuses what is not a price", () => {
  for (const bad of ["-1", "abc", "", "1.2.3", Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(() => parseDecimal(bad), RangeError, String(bad));
  }
});
