import assert from "node:assert/strict";
import { join } from "node:path";
import { parseConfig } from "../../core/config.ts";
import { MeterError } from "../../core/errors.ts";
import {
  effectivePorts,
  isPortFree,
  negotiatePorts,
  readEffectivePorts,
  writeEffectivePorts,
} from "../../core/ports.ts";
import { tempHome } from "../helpers/home.ts";

const defaults = () => parseConfig("", "config.toml");
const taken = (...ports: number[]) => (p: number) => !ports.includes(p);

Deno.test("negotiatePorts() takes the defaults when they are free", () => {
  assert.deepEqual(negotiatePorts(defaults(), () => true), { edge: 8081, intercept: 8090, api: 8765 });
});

Deno.test("negotiatePorts() moves to the next free port when a default is taken", () => {
  assert.deepEqual(negotiatePorts(defaults(), taken(8081, 8082, 8765)), {
    edge: 8083,
    intercept: 8090,
    api: 8766,
  });
});

Deno.test("negotiatePorts() never gives two roles the same port", () => {
  const loaded = parseConfig(`[daemon]\napi_port = 8100\n`, "config.toml");
  loaded.explicit.clear();
  loaded.config.daemon.intercept_port = 8081;
  const ports = negotiatePorts(loaded, () => true);
  assert.equal(new Set(Object.values(ports)).size, 3);
  assert.equal(ports.edge, 8081);
  assert.equal(ports.intercept, 8082);
});

Deno.test("negotiatePorts() uses a pinned port, and fails clearly when it is taken", () => {
  const pinned = parseConfig(`[edge]\nport = 9000\n`, "config.toml");
  assert.equal(negotiatePorts(pinned, () => true).edge, 9000);
  assert.throws(() => negotiatePorts(pinned, taken(9000)), (e) => {
    assert.ok(e instanceof MeterError);
    assert.match(e.message, /port 9000 \(edge\.port in config\.toml\) is in use/);
    assert.match(e.hint ?? "", /change edge\.port/);
    return true;
  });
});

Deno.test("negotiatePorts() keeps a port our own running process holds, even though it is not free", () => {
  const ports = negotiatePorts(defaults(), taken(8085, 8090), { edge: 8085, intercept: 8090 });
  assert.deepEqual(ports, { edge: 8085, intercept: 8090, api: 8765 });
  const pinned = parseConfig(`[edge]\nport = 8085\n`, "config.toml");
  assert.equal(negotiatePorts(pinned, taken(8085), { edge: 8085 }).edge, 8085);
});

Deno.test("negotiatePorts() gives up with a hint when nothing near a default is free", () => {
  assert.throws(
    () => negotiatePorts(defaults(), (p) => p < 8081 || p > 8200),
    /no free port found from 8081 to 8181 for edge/,
  );
});

Deno.test("isPortFree() is false for a port something listens on, true once it is closed", () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  try {
    assert.equal(isPortFree(port), false);
  } finally {
    listener.close();
  }
  assert.equal(isPortFree(port), true);
});

Deno.test("effective-ports.json round-trips, and a missing or corrupt one falls back to config", async () => {
  await using home = await tempHome();
  const file = join(home.home, "effective-ports.json");
  assert.equal(readEffectivePorts(file), undefined);
  assert.deepEqual(effectivePorts(file, defaults()), { edge: 8081, intercept: 8090, api: 8765 });
  writeEffectivePorts(file, { edge: 9001, intercept: 9002, api: 9003 });
  assert.deepEqual(readEffectivePorts(file), { edge: 9001, intercept: 9002, api: 9003 });
  assert.deepEqual(effectivePorts(file, defaults()), { edge: 9001, intercept: 9002, api: 9003 });
  await Deno.writeTextFile(file, `{"edge": 0, "intercept": "x"}`);
  assert.equal(readEffectivePorts(file), undefined);
  await Deno.writeTextFile(file, "not json");
  assert.deepEqual(effectivePorts(file, defaults()).edge, 8081);
});
