/**
 * Row ids. Calls are keyed by UUIDv7 (RFC 9562 §5.7): the time comes first, so ids written in time order land
 * at the end of the primary key's index. A random (v4) id lands anywhere in it: every flush then rewrites index
 * pages all over a large database, which measured as half the cost of storing a call.
 *
 * @module
 */

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

// Random bytes are drawn from the system's secure source a few kilobytes at a time: a small typed array per
// id would be an allocation the garbage collector pays for on every call.
const POOL = new Uint8Array(4000);
let poolAt = POOL.length;

function secureRandom10(): Uint8Array {
  if (poolAt + 10 > POOL.length) {
    crypto.getRandomValues(POOL);
    poolAt = 0;
  }
  poolAt += 10;
  return POOL.subarray(poolAt - 10, poolAt);
}

/**
 * A UUIDv7 for `ms` (Unix milliseconds): 48 bits of time, the version, then 74 bits of `random` (10 bytes;
 * the system's secure random by default; the seed script passes its own for repeatable data).
 */
export function uuid7(ms: number = Date.now(), random?: Uint8Array): string {
  const r = random ?? secureRandom10();
  if (r.length < 10) throw new RangeError("uuid7 needs 10 random bytes");
  const t = Math.max(0, Math.floor(ms)).toString(16).padStart(12, "0").slice(-12);
  return `${t.slice(0, 8)}-${t.slice(8)}-7${HEX[r[0] & 0x0f][1]}${HEX[r[1]]}-` +
    `${HEX[(r[2] & 0x3f) | 0x80]}${HEX[r[3]]}-${HEX[r[4]]}${HEX[r[5]]}${HEX[r[6]]}${HEX[r[7]]}${HEX[r[8]]}${
      HEX[r[9]]
    }`;
}
