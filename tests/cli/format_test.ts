import assert from "node:assert/strict";
import {
  csvLine,
  formatChange,
  formatCompact,
  formatCount,
  formatDuration,
  formatUnits,
  formatUsd,
  renderTable,
  shortenUnique,
  truncateMiddle,
  usdString,
  wrap,
} from "../../cli/format.ts";

Deno.test("formatUsd() shows dollars and cents from millicents, and tiny costs as < $0.01", () => {
  assert.equal(formatUsd(1_234_000), "$12.34");
  assert.equal(formatUsd(123_456_789), "$1,234.57");
  assert.equal(formatUsd(0), "$0.00");
  assert.equal(formatUsd(1), "< $0.01");
  assert.equal(formatUsd(999), "< $0.01");
  assert.equal(formatUsd(1000), "$0.01");
  assert.equal(formatUsd(1499), "$0.01");
  assert.equal(formatUsd(1500), "$0.02");
  assert.equal(formatUsd(null), "?");
});

Deno.test("usdString() is the exact amount with five decimals", () => {
  assert.equal(usdString(1_234_567), "12.34567");
  assert.equal(usdString(7), "0.00007");
  assert.equal(usdString(0), "0.00000");
  assert.equal(usdString(-250_000), "-2.50000");
});

Deno.test("formatUnits() writes every count from a thousand up with a unit, three significant digits", () => {
  assert.deepEqual([987, 1000, 9_633, 14_049, 123_456, 999_600, 4_560_000].map(formatUnits), [
    "987",
    "1.00k",
    "9.63k",
    "14.0k",
    "123k",
    "1.00M",
    "4.56M",
  ]);
});

Deno.test("shortenUnique() cuts labels in the middle and never prints two alike", () => {
  // The plain middle cut prints both as "clau…4-5"; another cut point sets them apart.
  assert.deepEqual(shortenUnique(["claude-sonnet-4-5", "claude-haiku-4-5", "gpt-5"], 8), [
    "cl…t-4-5",
    "cl…u-4-5",
    "gpt-5",
  ]);
  assert.deepEqual(shortenUnique(["research/notebooks", "gpt-5"], 10), ["resea…ooks", "gpt-5"]);
  // Labels that only differ in their last character keep it even when no cut point of 4 would do.
  const [a, b] = shortenUnique(["abcdefgh1", "abcdefgh2"], 4);
  assert.notEqual(a, b);
  assert.deepEqual(shortenUnique(["a-b", "c"], 8), ["a-b", "c"]);
});

Deno.test("formatCount() and formatCompact() write counts for people", () => {
  assert.equal(formatCount(1_234_567), "1,234,567");
  assert.equal(formatCount(999), "999");
  assert.equal(formatCompact(9_999), "9,999");
  assert.equal(formatCompact(12_345), "12.3k");
  assert.equal(formatCompact(123_456), "123k");
  assert.equal(formatCompact(999_960), "1.00M");
  assert.equal(formatCompact(4_560_000), "4.56M");
  assert.equal(formatCompact(7_800_000_000), "7.80B");
});

Deno.test("formatDuration() picks the unit a person would", () => {
  assert.equal(formatDuration(850), "850 ms");
  assert.equal(formatDuration(1_240), "1.2 s");
  assert.equal(formatDuration(42_000), "42 s");
  assert.equal(formatDuration(200_000), "3 m 20 s");
  assert.equal(formatDuration(7_500_000), "2 h 5 m");
  assert.equal(formatDuration(3 * 86_400_000 + 4 * 3_600_000), "3 d 4 h");
  assert.equal(formatDuration(86_400_000), "1 d");
});

Deno.test("formatChange() gives a signed percentage, 'new' from nothing, a dash for nothing to nothing", () => {
  assert.equal(formatChange(100, 125), "+25.0%");
  assert.equal(formatChange(200, 150), "-25.0%");
  assert.equal(formatChange(100, 100), "0%");
  assert.equal(formatChange(0, 5), "new");
  assert.equal(formatChange(0, 0), "—");
});

Deno.test("csvLine() quotes fields holding commas, quotes or line breaks, and ends in CRLF", () => {
  assert.equal(
    csvLine(["a", 1, null, 'say "hi"', "x,y", "two\nlines"]),
    'a,1,,"say ""hi""","x,y","two\nlines"\r\n',
  );
});

Deno.test("renderTable() aligns numbers right, draws rules and shortens only the first column to fit", () => {
  const cols = [{ header: "NAME" }, { header: "N", align: "right" as const }];
  assert.equal(
    renderTable(cols, [["alpha", "1"], ["b", "1,000"]], { width: 80, footer: [["TOTAL", "1,001"]] }),
    "NAME       N\n────────────\nalpha      1\nb      1,000\n────────────\nTOTAL  1,001\n",
  );
  const narrow = renderTable(cols, [["abcdefghijklmnop", "1"]], { width: 12, minFirst: 4 });
  assert.deepEqual(narrow.split("\n").slice(0, 3), ["NAME       N", "────────────", "abcd…mnop  1"]);
});

Deno.test("truncateMiddle() keeps both ends of a label and wrap() breaks at spaces", () => {
  assert.equal(truncateMiddle("claude-sonnet-4-5", 9), "clau…-4-5");
  assert.equal(truncateMiddle("short", 9), "short");
  assert.equal(wrap("one two three four", 9, "  "), "one two\n  three\n  four");
});

Deno.test("renderTable() shows a control character in a cell as �, so a model name cannot break the table or the terminal", () => {
  const out = renderTable(
    [{ header: "MODEL" }, { header: "CALLS", align: "right" }],
    [["gpt-5\nfake-row", "1"], ["\x1b[2Jclear", "2"]],
    { width: 80, footer: [["TOTAL\t", "3"]] },
  );
  assert.equal(out.split("\n").length, 7, out);
  assert.ok(!out.includes("\x1b") && !out.includes("\t"), JSON.stringify(out));
  assert.match(out, /^gpt-5�fake-row {2,}1$/m);
  assert.match(out, /^�\[2Jclear {2,}2$/m);
});
