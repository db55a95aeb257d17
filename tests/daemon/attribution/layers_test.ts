import assert from "node:assert/strict";
import { join } from "node:path";
import {
  cwdLayer,
  envLayer,
  findUp,
  gitLayer,
  haltonrcLayer,
  ideLayer,
  ideWorkspace,
} from "../../../daemon/attribution/layers.ts";
import { realFsView } from "../../../daemon/attribution/fs_view.ts";
import { fakeFs, proc } from "./_fakes.ts";

/** A temp tree: `paths` ending in `/` are folders, others files with the given text. */
async function tree(paths: Record<string, string>): Promise<string> {
  const root = await Deno.realPath(await Deno.makeTempDir({ prefix: "attr-layers-" }));
  for (const [p, text] of Object.entries(paths)) {
    const full = join(root, p);
    if (p.endsWith("/")) await Deno.mkdir(full, { recursive: true });
    else {
      await Deno.mkdir(join(full, ".."), { recursive: true });
      await Deno.writeTextFile(full, text);
    }
  }
  return root;
}

Deno.test("envLayer() answers HALTON_PROJECT, normalised, and nothing for a bad one", () => {
  assert.equal(envLayer(proc({ pid: 1, env: { HALTON_PROJECT: "Acme Web" } })), "acme-web");
  assert.equal(envLayer(proc({ pid: 1, env: { HALTON_PROJECT: "a+b" } })), undefined);
  assert.equal(envLayer(proc({ pid: 1 })), undefined);
});

Deno.test("haltonrcLayer() finds the nearest .haltonrc walking up from the working directory", async () => {
  const root = await tree({
    ".haltonrc": 'project = "outer"\n',
    "work/acme/.haltonrc": '# team file\nproject = "Acme"\n',
    "work/acme/src/deep/": "",
    "work/other/": "",
  });
  try {
    const at = (cwd: string) => haltonrcLayer(proc({ pid: 1, cwd: join(root, cwd) }), realFsView);
    assert.equal(await at("work/acme/src/deep"), "acme");
    assert.equal(await at("work/acme"), "acme");
    assert.equal(await at("work/other"), "outer");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("haltonrcLayer() answers nothing when the nearest file is not TOML or names a bad slug", async () => {
  const root = await tree({
    ".haltonrc": 'project = "outer"\n',
    "broken/.haltonrc": "project = acme\n",
    "bad/.haltonrc": 'project = "no way!"\n',
    "nokey/.haltonrc": 'name = "acme"\n',
  });
  try {
    for (const dir of ["broken", "bad", "nokey"]) {
      assert.equal(await haltonrcLayer(proc({ pid: 1, cwd: join(root, dir) }), realFsView), undefined, dir);
    }
    assert.equal(await haltonrcLayer(proc({ pid: 1 }), realFsView), undefined);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("gitLayer() names the repository root, whether .git is a folder or a file (worktree)", async () => {
  const root = await tree({
    "My Repo/.git/HEAD": "ref: refs/heads/main\n",
    "My Repo/pkg/api/": "",
    "wt/feature-x/.git": "gitdir: /elsewhere/.git/worktrees/feature-x\n",
    "wt/feature-x/src/": "",
    "loose/": "",
  });
  try {
    const at = (cwd: string) => gitLayer(proc({ pid: 1, cwd: join(root, cwd) }), realFsView);
    assert.equal(await at("My Repo/pkg/api"), "my-repo");
    assert.equal(await at("wt/feature-x/src"), "feature-x");
    assert.equal(await at("loose"), undefined);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("findUp() stops at the root", async () => {
  const fs = fakeFs({ "/a/b/c/file": "x" });
  assert.equal(await findUp(fs, "/a/b/c", "b"), "/a");
  assert.equal(await findUp(fs, "/a/b/c", "nothing"), undefined);
});

Deno.test("ideWorkspace() reads --folder-uri in both forms and any scheme", () => {
  assert.equal(
    ideWorkspace(["/usr/share/code/code", "--folder-uri", "file:///home/ada/src/Acme%20Web"]),
    "Acme Web",
  );
  assert.equal(ideWorkspace(["cursor", "--folder-uri=file:///home/ada/src/billing/"]), "billing");
  assert.equal(
    ideWorkspace(["code", "--folder-uri", "vscode-remote://ssh-remote%2Bbox/srv/payments"]),
    "payments",
  );
  assert.equal(
    ideWorkspace(["Code.exe", "--folder-uri", "file:///c%3A/Users/ada/src/Acme%20Web"]),
    "Acme Web",
  );
});

Deno.test("ideWorkspace() reads a .code-workspace file as the workspace label", () => {
  assert.equal(ideWorkspace(["windsurf", "/home/ada/platform.code-workspace"]), "platform");
  assert.equal(
    ideWorkspace(["code", "--file-uri", "file:///home/ada/Team%20Stack.code-workspace"]),
    "Team Stack",
  );
  assert.equal(ideWorkspace(["code", "--file-uri", "file:///home/ada/notes.md"]), undefined);
  assert.equal(ideWorkspace(["node", "server.js", "--port", "3000"]), undefined);
  assert.equal(ideWorkspace(["code", "--folder-uri"]), undefined);
});

Deno.test("ideLayer() takes the nearest process whose argv names a workspace", () => {
  const shell = proc({ pid: 3, argv: ["bash"] });
  const ptyHost = proc({ pid: 2, argv: ["code", "--type=ptyHost"] });
  const main = proc({ pid: 1, argv: ["code", "--folder-uri", "file:///src/Acme%20Web"] });
  assert.equal(ideLayer([shell, ptyHost, main]), "acme-web");
  assert.equal(ideLayer([shell, ptyHost]), undefined);
  assert.equal(
    ideLayer([proc({ pid: 9, argv: ["code", "--folder-uri", "file:///src/caf%C3%A9"] })]),
    undefined,
  );
});

Deno.test("cwdLayer() answers the working directory's basename, nothing for / or a bad name", () => {
  assert.equal(cwdLayer(proc({ pid: 1, cwd: "/home/ada/Side Project" })), "side-project");
  assert.equal(cwdLayer(proc({ pid: 1, cwd: "/" })), undefined);
  assert.equal(cwdLayer(proc({ pid: 1, cwd: "/tmp/a+b" })), undefined);
  assert.equal(cwdLayer(proc({ pid: 1 })), undefined);
});
