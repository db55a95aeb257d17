import assert from "node:assert/strict";
import { join } from "node:path";
import { MeterError } from "../../core/errors.ts";
import {
  hasRcBlock,
  RC_END,
  RC_START,
  removeRcBlock,
  renderRcBlock,
  upsertRcBlock,
} from "../../platform/shell_rc.ts";
import { exec, have } from "./_helpers.ts";

const vars = [
  { name: "HTTPS_PROXY", value: "http://127.0.0.1:8081" },
  { name: "SSL_CERT_FILE", value: "/home/ada lovelace/it's \\ $HOME/ca-bundle.pem" },
];
const block = renderRcBlock("bash", vars);
const ORIGINALS = ["", "\n", "alias ll='ls -l'", "alias ll='ls -l'\n", "export A=1\n\n", "x\r\ny\r\n"];

Deno.test("upsertRcBlock() appends the block between markers; a second insert changes nothing", () => {
  for (const original of ORIGINALS) {
    const once = upsertRcBlock(original, block);
    assert.ok(once.startsWith(original));
    assert.ok(once.endsWith(`${RC_END}\n`));
    assert.ok(once.includes(`\n${RC_START}\n`) || once.startsWith(`${RC_START}\n`));
    assert.equal(upsertRcBlock(once, block), once, JSON.stringify(original));
  }
});

Deno.test("removeRcBlock() gives back the original text byte for byte, whatever its last line", () => {
  for (const original of ORIGINALS) {
    assert.equal(removeRcBlock(upsertRcBlock(original, block)), original, JSON.stringify(original));
  }
  assert.equal(removeRcBlock("no block here\n"), "no block here\n");
});

Deno.test("upsertRcBlock() replaces an old block where it stands, keeping the user's lines after it", () => {
  const old = upsertRcBlock(
    "before\n",
    renderRcBlock("bash", [{ name: "HTTPS_PROXY", value: "http://127.0.0.1:9000" }]),
  );
  const withTail = `${old}after\n`;
  const updated = upsertRcBlock(withTail, block);
  assert.equal(updated, `before\n\n${block}after\n`);
  assert.equal(removeRcBlock(updated), "before\nafter\n");
  assert.ok(hasRcBlock(updated));
});

Deno.test("an rc file with a start marker and no end marker is left alone with a clear error", () => {
  const broken = `a\n${RC_START}\nexport X=1\n`;
  assert.throws(() => upsertRcBlock(broken, block, "~/.bashrc"), (e) => {
    assert.ok(e instanceof MeterError);
    assert.match(
      e.message,
      /~\/\.bashrc has the line '# >>> halton-meter >>>' but no '# <<< halton-meter <<<'/,
    );
    return true;
  });
  assert.throws(() => removeRcBlock(broken), MeterError);
});

/** Sources an rc file in `shell` and prints each variable, to see what a real shell makes of the block. */
async function valuesIn(shell: string, rcText: string, source: string): Promise<string[]> {
  const dir = await Deno.makeTempDir();
  try {
    const rc = join(dir, "rc");
    await Deno.writeTextFile(rc, rcText);
    const print = vars.map((v) => `printf '%s\\n' "$${v.name}"`).join("; ");
    const r = await exec(shell, ["-c", `${source} '${rc}'; ${print}`], { env: { HOME: dir } });
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.split("\n").slice(0, -1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("the bash block exports each value exactly, quotes, spaces, backslashes and $ included", async () => {
  const text = upsertRcBlock("alias ll='ls -l'\n", renderRcBlock("bash", vars));
  assert.deepEqual(await valuesIn("bash", text, "."), vars.map((v) => v.value));
});

for (const shell of ["zsh", "fish"] as const) {
  Deno.test({
    name: `the ${shell} block sets each value exactly`,
    ignore: !have(shell),
    async fn() {
      const text = upsertRcBlock("", renderRcBlock(shell, vars));
      assert.deepEqual(await valuesIn(shell, text, "source"), vars.map((v) => v.value));
    },
  });
}

Deno.test("the fish block uses set -gx with fish's own escapes", () => {
  const fish = renderRcBlock("fish", vars);
  assert.ok(fish.includes("set -gx SSL_CERT_FILE '/home/ada lovelace/it\\'s \\\\ $HOME/ca-bundle.pem'"));
});
