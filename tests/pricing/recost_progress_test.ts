import assert from "node:assert/strict";
import { buildRateBook, recost } from "../../pricing/mod.ts";
import { RECOST_PROGRESS_EVERY } from "../../pricing/store.ts";
import { openStore } from "../../store/open.ts";
import { seedDatabase } from "../../scripts/seed.ts";
import { tempHome } from "../helpers/home.ts";

Deno.test("recost() reports its progress every 10,000 calls, with the number to examine", async () => {
  await using home = await tempHome();
  seedDatabase(home.paths.db, { rows: 25_000, days: 10, seed: 3 });
  const db = openStore(home.paths.db);
  try {
    const calls: [number, number][] = [];
    const result = recost(db, buildRateBook({ overrides: [] }), {
      all: true,
      onProgress: (done, total) => calls.push([done, total]),
    });
    assert.equal(RECOST_PROGRESS_EVERY, 10_000);
    assert.equal(result.examined, 25_000);
    assert.deepEqual(calls, [[10_000, 25_000], [20_000, 25_000]]);
  } finally {
    db.close();
  }
});
