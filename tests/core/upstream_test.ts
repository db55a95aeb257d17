import assert from "node:assert/strict";
import { parseConfig } from "../../core/config.ts";
import { judgeProxy, judgeResolve, resolveTarget, upstreamOf } from "../../core/upstream.ts";
import { parseProxyUrl } from "../../daemon/upstream/proxy.ts";
import { parseResolveMap } from "../../daemon/upstream/target.ts";

const FILE = "/h/config.toml";

Deno.test("judgeResolve() accepts ip and ip:port overrides and names the first bad entry", () => {
  const r = judgeResolve({ "API.openai.com": "127.0.0.1:9443", "api.x.ai": "127.0.0.2" });
  assert.ok("value" in r);
  assert.deepEqual(resolveTarget({ host: "api.openai.com", port: 443 }, r.value), {
    host: "127.0.0.1",
    port: 9443,
  });
  assert.deepEqual(resolveTarget({ host: "api.x.ai", port: 443 }, r.value), { host: "127.0.0.2", port: 443 });
  assert.deepEqual(resolveTarget({ host: "other.com", port: 443 }, r.value), {
    host: "other.com",
    port: 443,
  });
  const bad = judgeResolve({ "ok.com": "1.2.3.4", "bad.com": "1.2.3.4:99999" });
  assert.ok("expected" in bad && bad.expected.startsWith('"bad.com"'));
});

Deno.test("judgeProxy() takes credentials, ignores a path with a warning, refuses other schemes", () => {
  const r = judgeProxy("http://me:p%40ss@Proxy.Corp:3128/x");
  assert.ok("value" in r);
  assert.deepEqual(r.value, { host: "proxy.corp", port: 3128, authorization: `Basic ${btoa("me:p@ss")}` });
  assert.match(r.warning ?? "", /path "\/x" is ignored/);
  assert.deepEqual(judgeProxy(""), { value: undefined });
  for (const bad of ["socks5://x:1", "proxy.corp:3128", "http://", "http://a b:1"]) {
    assert.ok("expected" in judgeProxy(bad), bad);
  }
});

Deno.test("config, edge and daemon give one verdict on every [upstream] value", () => {
  const cases: { proxy: string; resolve: Record<string, string> }[] = [
    { proxy: "http://proxy.corp:3128/x", resolve: {} },
    { proxy: "http://proxy.corp", resolve: { "api.openai.com": "127.0.0.1" } },
    { proxy: "socks5://x:1", resolve: {} },
    { proxy: "", resolve: { "a.b": "not an ip:x" } },
    { proxy: "", resolve: { "api.openai.com": "[::1]:9443" } },
    { proxy: "", resolve: { "api.openai.com": "localhost:70000" } },
  ];
  for (const c of cases) {
    const toml = `[upstream]\nproxy = ${JSON.stringify(c.proxy)}\n[upstream.resolve]\n` +
      Object.entries(c.resolve).map(([k, v]) => `${JSON.stringify(k)} = ${JSON.stringify(v)}`).join("\n");
    let configOk = true;
    try {
      parseConfig(toml, FILE);
    } catch {
      configOk = false;
    }
    let daemonOk = true;
    try {
      parseProxyUrl(c.proxy);
      parseResolveMap(c.resolve);
    } catch {
      daemonOk = false;
    }
    assert.equal(daemonOk, configOk, JSON.stringify(c));
    if (configOk) {
      // What the edge will use is exactly what config judged, never less.
      const edge = upstreamOf(c);
      assert.equal(edge.resolve.size, Object.keys(c.resolve).length);
      assert.equal(edge.proxy !== undefined, c.proxy !== "");
    }
  }
});

Deno.test("parseConfig() lenient keeps every usable value and lists what it ignored, with file, line and key", () => {
  const toml = `[edge]\nport = 9\n[upstream]\nproxy = "ftp://nope"\n[hosts]\n"llm.corp" = "openai"\n`;
  const loaded = parseConfig(toml, FILE, { lenient: true });
  assert.equal(loaded.config.upstream.proxy, "");
  assert.equal(loaded.config.edge.port, 9);
  assert.deepEqual(loaded.config.hosts, { "llm.corp": "openai" });
  assert.equal(loaded.ignored.length, 1);
  assert.match(
    loaded.ignored[0],
    /config\.toml \(line 4, key upstream\.proxy\): expected an http:\/\/ proxy/,
  );
  const broken = parseConfig("[edge\nport = ", FILE, { lenient: true });
  assert.equal(broken.config.edge.port, 8081);
  assert.match(broken.ignored[0], /not valid TOML/);
  assert.throws(() => parseConfig(toml, FILE), /upstream\.proxy/);
});
