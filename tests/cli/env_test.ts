import assert from "node:assert/strict";
import { parseInvocation } from "../../cli/command.ts";
import { command, envVars, execute, pickShell, renderEnv } from "../../cli/env.ts";
import { UsageError } from "../../core/errors.ts";
import { writeEffectivePorts } from "../../core/ports.ts";
import { captureIo } from "../helpers/io.ts";
import { tempHome } from "../helpers/home.ts";
import { exec, have } from "../platform/_helpers.ts";

Deno.test("env prints variables a POSIX shell reads back exactly, pointing at the effective edge port", {
  ignore: !have("sh"),
}, async () => {
  await using home = await tempHome();
  writeEffectivePorts(home.paths.effectivePorts, { edge: 18081, intercept: 18090, api: 18765 });
  const out = captureIo(home.paths, { env: { SHELL: "/bin/bash" } });
  assert.equal(await execute(out.io, parseInvocation("env", command, [])), 0);
  const r = await exec("sh", ["-c", `${out.stdout()}\nprintf '%s|%s' "$HTTPS_PROXY" "$no_proxy"`]);
  assert.equal(r.stdout, "http://127.0.0.1:18081|localhost,127.0.0.1,::1");
});

Deno.test("env --json lists the CA variables only when the CA files exist", async () => {
  await using home = await tempHome();
  const read = async () => {
    const out = captureIo(home.paths);
    await execute(out.io, parseInvocation("env", command, ["--json"]));
    return JSON.parse(out.stdout()) as Record<string, string>;
  };
  assert.equal((await read()).NODE_EXTRA_CA_CERTS, undefined);
  await Deno.mkdir(home.paths.caDir, { recursive: true });
  await Deno.writeTextFile(home.paths.caCert, "pem");
  assert.equal((await read()).NODE_EXTRA_CA_CERTS, home.paths.caCert);
});

Deno.test("env with a config it cannot use still prints the variables, and warns of that and of a silent edge", async () => {
  await using home = await tempHome();
  await Deno.mkdir(home.paths.home, { recursive: true });
  await Deno.writeTextFile(home.paths.config, '[edge]\nport = "x"\n[bogus]\n');
  const free = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (free.addr as Deno.NetAddr).port;
  free.close();
  writeEffectivePorts(home.paths.effectivePorts, { edge: port, intercept: 18090, api: 18765 });
  const out = captureIo(home.paths, { env: { SHELL: "/bin/bash" } });
  assert.equal(await execute(out.io, parseInvocation("env", command, ["--json"])), 0);
  assert.equal(JSON.parse(out.stdout()).HTTPS_PROXY, `http://127.0.0.1:${port}`);
  assert.match(out.stderr(), /^warning: .*config\.toml:3: unknown section \[bogus\] is ignored$/m);
  assert.match(
    out.stderr(),
    /^warning: .*edge\.port.* \(ignored: the edge runs on defaults in its place\)$/m,
  );
  assert.match(out.stderr(), new RegExp(`the meter's edge is not listening on 127\\.0\\.0\\.1:${port}`));
});

Deno.test("env quotes values for fish, PowerShell and cmd, and picks the login shell by default", () => {
  const vars = { A: "it's $here" };
  assert.equal(renderEnv("fish", vars), "set -gx A 'it\\'s $here';\n");
  assert.equal(renderEnv("powershell", vars), "$env:A = 'it''s $here'\n");
  assert.equal(renderEnv("cmd", vars), 'set "A=it\'s $here"\n');
  assert.equal(renderEnv("zsh", vars), "export A='it'\\''s $here'\n");
  assert.equal(pickShell(undefined, { SHELL: "/usr/bin/fish" }, "linux"), "fish");
  assert.equal(pickShell(undefined, {}, "windows"), "powershell");
  assert.throws(() => pickShell("tcsh", {}, "linux"), UsageError);
});

Deno.test("env builds ca-bundle.pem when the CA exists without it (after 'up' or 'start', no 'init')", async () => {
  await using home = await tempHome();
  const ca = "-----BEGIN CERTIFICATE-----\nTUVURVI=\n-----END CERTIFICATE-----\n";
  const root = "-----BEGIN CERTIFICATE-----\nUk9PVEE=\n-----END CERTIFICATE-----\n";
  const roots = `${home.dir}/roots.pem`;
  await Deno.writeTextFile(roots, root);
  await Deno.mkdir(home.paths.caDir, { recursive: true });
  await Deno.writeTextFile(home.paths.caCert, ca);
  const vars = envVars(captureIo(home.paths).io, [roots]);
  for (const v of ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"]) {
    assert.equal(vars[v], home.paths.caBundle, v);
  }
  const bundle = await Deno.readTextFile(home.paths.caBundle);
  assert.ok(bundle.startsWith(root) && bundle.endsWith(ca), "system roots, then our CA");
  assert.equal(vars.NODE_USE_ENV_PROXY, "1");
});
