import assert from "node:assert/strict";
import {
  boolFlag,
  closest,
  type CommandSpec,
  parseInvocation,
  renderCommandHelp,
  stringFlag,
} from "../../cli/command.ts";
import { UsageError } from "../../core/errors.ts";

const spec: CommandSpec = {
  usage: "demo [--since SPAN] [--json]",
  description: "A command for tests.\nIt has two lines.",
  flags: [
    { name: "since", type: "string", value: "SPAN", description: "How far back." },
    { name: "json", type: "boolean", description: "Print JSON." },
    { name: "project", short: "p", type: "string", value: "P", description: "One project." },
    { name: "tag", type: "string", multiple: true, description: "A tag, repeatable." },
  ],
  examples: ["halton-meter demo --since 7d"],
  run: () => 0,
};

function usageError(argv: string[], s: CommandSpec = spec): UsageError {
  try {
    parseInvocation("demo", s, argv);
  } catch (e) {
    assert.ok(e instanceof UsageError, `expected a UsageError, got ${e}`);
    assert.equal(e.exitCode, 2);
    return e;
  }
  assert.fail(`parseInvocation accepted ${argv.join(" ")}`);
}

Deno.test("parseInvocation() reads string and boolean flags, in both --flag value and --flag=value forms", () => {
  const inv = parseInvocation("demo", spec, [
    "--since",
    "7d",
    "--json",
    "-p",
    "web",
    "--tag=a",
    "--tag",
    "b",
  ]);
  assert.equal(stringFlag(inv, "since"), "7d");
  assert.equal(boolFlag(inv, "json"), true);
  assert.equal(stringFlag(inv, "project"), "web");
  assert.deepEqual(inv.flags.tag, ["a", "b"]);
  assert.equal(stringFlag(parseInvocation("demo", spec, ["--since=24h"]), "since"), "24h");
});

Deno.test("parseInvocation() leaves absent flags undefined and false", () => {
  const inv = parseInvocation("demo", spec, []);
  assert.equal(stringFlag(inv, "since"), undefined);
  assert.equal(boolFlag(inv, "json"), false);
  assert.deepEqual(inv.positionals, []);
  assert.deepEqual(inv.rest, []);
});

Deno.test("parseInvocation() keeps everything after -- for the command to run", () => {
  const inv = parseInvocation("demo", spec, ["--json", "--", "curl", "--since", "x"]);
  assert.equal(boolFlag(inv, "json"), true);
  assert.deepEqual(inv.rest, ["curl", "--since", "x"]);
  assert.equal(stringFlag(inv, "since"), undefined);
});

Deno.test("parseInvocation() rejects an unknown flag and suggests the nearest one", () => {
  const e = usageError(["--sinse", "7d"]);
  assert.equal(e.message, "demo: unknown flag --sinse");
  assert.equal(e.hint, "Did you mean --since? See 'halton-meter demo --help'.");
  assert.match(usageError(["--jsno"]).hint ?? "", /Did you mean --json\?/);
  assert.match(usageError(["--sinse=7d"]).hint ?? "", /Did you mean --since\?/);
});

Deno.test("parseInvocation() takes an unknown one-letter flag for an initial: -s suggests --since", () => {
  assert.equal(usageError(["-s", "7d"]).hint, "Did you mean --since? See 'halton-meter demo --help'.");
  assert.equal(usageError(["-x"]).hint, "See 'halton-meter demo --help'.");
});

Deno.test("parseInvocation() rejects a flag nothing resembles without a guess", () => {
  const e = usageError(["--frobnicate"]);
  assert.equal(e.message, "demo: unknown flag --frobnicate");
  assert.equal(e.hint, "See 'halton-meter demo --help'.");
});

Deno.test("parseInvocation() rejects a missing value and a value given to a boolean flag", () => {
  assert.equal(usageError(["--since"]).message, "demo: --since needs a value (--since SPAN)");
  assert.equal(usageError(["-p"]).message, "demo: --project needs a value (--project P)");
  assert.equal(usageError(["--since"]).hint, "See 'halton-meter demo --help'.");
  assert.equal(usageError(["--json=yes"]).message, "demo: --json takes no value");
});

Deno.test("parseInvocation() rejects a positional argument unless the command takes them", () => {
  const e = usageError(["extra"]);
  assert.equal(e.message, "demo: unexpected argument 'extra'");
  const inv = parseInvocation("demo", { ...spec, positionals: true }, ["extra"]);
  assert.deepEqual(inv.positionals, ["extra"]);
});

Deno.test("parseInvocation() lets --help through whatever else is on the line", () => {
  assert.equal(parseInvocation("demo", spec, ["stray", "--help"]).flags.help, true);
  assert.equal(parseInvocation("demo", spec, ["-h"]).flags.help, true);
});

Deno.test("renderCommandHelp() shows summary, usage, description, every flag with its value and examples", () => {
  const help = renderCommandHelp("demo", "Demonstrate things.", spec);
  const lines = help.split("\n");
  assert.equal(lines[0], "halton-meter demo: Demonstrate things.");
  assert.ok(lines.includes("Usage: halton-meter demo [--since SPAN] [--json]"));
  assert.ok(lines.includes("It has two lines."));
  const flagLines = lines.slice(lines.indexOf("Options:") + 1, lines.indexOf("Options:") + 6);
  assert.deepEqual(flagLines, [
    "      --since SPAN  How far back.",
    "      --json        Print JSON.",
    "  -p, --project P   One project.",
    "      --tag VALUE   A tag, repeatable.",
    "  -h, --help        Show this help.",
  ]);
  assert.ok(lines.includes("  halton-meter demo --since 7d"));
  assert.ok(help.endsWith("\n"));
});

Deno.test("closest() finds likely typos and ignores unrelated words", () => {
  const commands = ["report", "status", "start", "stop", "doctor"];
  assert.equal(closest("reprot", commands), "report");
  assert.equal(closest("stauts", commands), "status");
  assert.equal(closest("doc", commands), "doctor");
  assert.equal(closest("xyzzy", commands), undefined);
  assert.equal(closest("anything", []), undefined);
});
