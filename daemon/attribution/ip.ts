/**
 * IP addresses in one comparable form: 16 bytes as 32 hex digits, IPv4 written as IPv4-mapped IPv6, because
 * a client may reach a `127.0.0.1` listener from an IPv6 socket and then appear as `::ffff:127.0.0.1`.
 *
 * @module
 */
import { ipv4Octets } from "../../core/ipv4.ts";

/** The 32-hex-digit key of an IPv4 or IPv6 address (zone id ignored); undefined when it is not one. */
export function ipKey(ip: string): string | undefined {
  const bytes = ipBytes(ip);
  return bytes ? hex(bytes) : undefined;
}

/** The 16 bytes of an IPv4 (as IPv4-mapped IPv6) or IPv6 address, zone id ignored; undefined when it is not one. */
function ipBytes(ip: string): number[] | undefined {
  const bare = ip.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  const v4 = ipv4Octets(bare);
  return v4 ? [...V4_MAPPED, ...v4] : ipv6Bytes(bare);
}

/** The IPv4 bytes of `ip`, written plain or IPv4-mapped; undefined for any other address. */
export function ipv4Of(ip: string): number[] | undefined {
  const bytes = ipBytes(ip);
  return bytes && V4_MAPPED.every((b, i) => bytes[i] === b) ? bytes.slice(12) : undefined;
}

const V4_MAPPED = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

function ipv6Bytes(s: string): number[] | undefined {
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const groups = (h: string) => (h === "" ? [] : h.split(":"));
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  const words: number[] = [];
  const push = (list: string[]): boolean => {
    for (let i = 0; i < list.length; i++) {
      const g = list[i];
      const v4 = i === list.length - 1 ? ipv4Octets(g) : undefined;
      if (v4) words.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      else if (/^[0-9a-f]{1,4}$/i.test(g)) words.push(parseInt(g, 16));
      else return false;
    }
    return true;
  };
  if (!push(head)) return undefined;
  const headWords = words.length;
  if (!push(tail)) return undefined;
  const tailWords = words.splice(headWords);
  const gap = 8 - headWords - tailWords.length;
  if (halves.length === 2 ? gap < 1 : gap !== 0) return undefined;
  const all = [...words, ...Array(gap).fill(0), ...tailWords];
  return all.flatMap((w) => [w >> 8, w & 0xff]);
}

function hex(bytes: number[]): string {
  return bytes.map((b) => b.toString(16).padStart(2, "0")).join("");
}
