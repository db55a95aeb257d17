import assert from "node:assert/strict";
import { ipKey, ipv4Of } from "../../../daemon/attribution/ip.ts";

Deno.test("ipKey() writes IPv4 as IPv4-mapped IPv6, equal to its ::ffff: form", () => {
  assert.equal(ipKey("127.0.0.1"), "00000000000000000000ffff7f000001");
  assert.equal(ipKey("::ffff:127.0.0.1"), ipKey("127.0.0.1"));
  assert.equal(ipKey("::FFFF:7f00:1"), ipKey("127.0.0.1"));
});

Deno.test("ipKey() expands :: and ignores brackets and zone ids", () => {
  assert.equal(ipKey("::1"), "00000000000000000000000000000001");
  assert.equal(ipKey("[::1]"), ipKey("::1"));
  assert.equal(ipKey("fe80::1%eth0"), "fe800000000000000000000000000001");
  assert.equal(ipKey("2001:db8:0:0:0:0:0:2"), ipKey("2001:db8::2"));
});

Deno.test("ipKey() rejects what is not an address", () => {
  for (const bad of ["", "localhost", "1.2.3", "256.1.1.1", "1::2::3", "1:2:3:4:5:6:7:8:9", "12345::"]) {
    assert.equal(ipKey(bad), undefined, bad);
  }
});

Deno.test("ipv4Of() gives the four bytes of an IPv4 address, plain or IPv4-mapped, and nothing for IPv6", () => {
  assert.deepEqual(ipv4Of("127.0.0.2"), [127, 0, 0, 2]);
  assert.deepEqual(ipv4Of("::ffff:127.0.0.2"), [127, 0, 0, 2]);
  assert.equal(ipv4Of("::1"), undefined);
  assert.equal(ipv4Of("not an address"), undefined);
});
