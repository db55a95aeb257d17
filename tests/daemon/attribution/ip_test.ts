import assert from "node:assert/strict";
import { ipKey } from "../../../daemon/attribution/ip.ts";

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
