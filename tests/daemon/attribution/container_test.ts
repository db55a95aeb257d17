import assert from "node:assert/strict";
import { containerLayer } from "../../../daemon/attribution/container.ts";
import { fakeFs, proc } from "./_fakes.ts";

const ROOT = "/proc/4242/root";

Deno.test("containerLayer() names a docker container by its hostname, seen through the process's root", async () => {
  const fs = fakeFs({ [`${ROOT}/.dockerenv`]: "", [`${ROOT}/etc/hostname`]: "3f9c2a1b7d4e\n" });
  assert.equal(await containerLayer(proc({ pid: 4242, root: ROOT }), fs), "docker:3f9c2a1b7d4e");
});

Deno.test("containerLayer() recognises docker from cgroup v1 when there is no .dockerenv", async () => {
  const fs = fakeFs({
    [`${ROOT}/proc/1/cgroup`]: "12:pids:/docker/3f9c2a1b7d4e5f60\n0::/\n",
    [`${ROOT}/etc/hostname`]: "Build.Box\n",
  });
  assert.equal(await containerLayer(proc({ pid: 4242, root: ROOT }), fs), "docker:build-box");
});

Deno.test("containerLayer() prefers k8s over docker and falls back to HOSTNAME from the env", async () => {
  const env = { KUBERNETES_SERVICE_HOST: "10.96.0.1", HOSTNAME: "agent-7d9f-x2" };
  const fs = fakeFs({ [`${ROOT}/.dockerenv`]: "" });
  assert.equal(await containerLayer(proc({ pid: 4242, root: ROOT, env }), fs), "k8s:agent-7d9f-x2");
  const byCgroup = fakeFs({
    [`${ROOT}/proc/1/cgroup`]: "0::/kubepods/besteffort/pod1234/abcd\n",
    [`${ROOT}/etc/hostname`]: "worker-0\n",
  });
  assert.equal(await containerLayer(proc({ pid: 4242, root: ROOT }), byCgroup), "k8s:worker-0");
});

Deno.test("containerLayer() answers nothing outside a container or without a hostname", async () => {
  const host = fakeFs({ "/proc/1/cgroup": "0::/init.scope\n", "/etc/hostname": "laptop\n" });
  assert.equal(await containerLayer(proc({ pid: 10 }), host), undefined);
  const noName = fakeFs({ [`${ROOT}/.dockerenv`]: "" });
  assert.equal(await containerLayer(proc({ pid: 4242, root: ROOT }), noName), undefined);
});

Deno.test("containerLayer() names a macOS sandboxed app by its bundle id", async () => {
  const none = fakeFs({});
  const fromEnv = proc({ pid: 5, env: { APP_SANDBOX_CONTAINER_ID: "com.example.Notes" } });
  assert.equal(await containerLayer(fromEnv, none), "mac:com-example-notes");
  const fromCwd = proc({ pid: 5, cwd: "/Users/ada/Library/Containers/com.example.Writer/Data" });
  assert.equal(await containerLayer(fromCwd, none), "mac:com-example-writer");
});

Deno.test("containerLayer() reads an app's Info.plist and checks its sandbox folder exists", async () => {
  const app = "/Applications/Quick Draft.app";
  const plist = `<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict>
  <key>CFBundleName</key><string>Quick Draft</string>
  <key>CFBundleIdentifier</key>
  <string>io.draft.QuickDraft</string>
</dict></plist>`;
  const exe = `${app}/Contents/MacOS/Quick Draft`;
  const sandboxed = fakeFs({
    [`${app}/Contents/Info.plist`]: plist,
    "/Users/ada/Library/Containers/io.draft.QuickDraft/Data": null,
  });
  assert.equal(
    await containerLayer(proc({ pid: 5, exe, cwd: "/" }), sandboxed, "/Users/ada"),
    "mac:io-draft-quickdraft",
  );
  const notSandboxed = fakeFs({ [`${app}/Contents/Info.plist`]: plist });
  assert.equal(await containerLayer(proc({ pid: 5, exe, cwd: "/" }), notSandboxed, "/Users/ada"), undefined);
});
