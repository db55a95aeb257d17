/**
 * `deno task channels --version 0.2.0 --base-url URL [--homepage URL] [--sums dist/SHA256SUMS] [--out dist]`:
 * writes the Homebrew formula (`halton-meter.rb`) and the Scoop manifest (`halton-meter.json`) of a release
 * from its `SHA256SUMS`. `deno task build` runs it once every target is built; the release workflow runs it
 * on the checksums of the binaries it publishes.
 *
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { homebrewFormula, parseSums, type ReleaseInfo, scoopManifest } from "./manifests.ts";
import { VERSION } from "../../core/version.ts";

/** Where releases are published when no base URL is given. */
export const DEFAULT_HOMEPAGE = "https://github.com/haltonlabs/halton-meter";

const USAGE =
  "Usage: deno task channels [--version X.Y.Z] [--base-url URL] [--homepage URL] [--sums FILE] [--out DIR]";

/** Writes both files into `out`; returns their paths. */
export function writeChannelFiles(out: string, release: ReleaseInfo): string[] {
  const files = [
    [join(out, "halton-meter.rb"), homebrewFormula(release)],
    [join(out, "halton-meter.json"), scoopManifest(release)],
  ];
  for (const [path, text] of files) Deno.writeTextFileSync(path, text);
  return files.map(([path]) => path);
}

/** The command; returns the exit code. */
export function channelsMain(args: string[]): number {
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        version: { type: "string" },
        "base-url": { type: "string" },
        homepage: { type: "string" },
        sums: { type: "string" },
        out: { type: "string" },
      },
    }));
  } catch (e) {
    console.error(`channels: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const out = values.out ?? "dist";
  const homepage = values.homepage ?? DEFAULT_HOMEPAGE;
  const sumsFile = values.sums ?? join(out, "SHA256SUMS");
  let text: string;
  try {
    text = Deno.readTextFileSync(sumsFile);
  } catch (e) {
    console.error(
      `channels: cannot read ${sumsFile}: ${(e as Error).message}\nhint: run deno task build first.`,
    );
    return 1;
  }
  try {
    const written = writeChannelFiles(out, {
      version: (values.version ?? VERSION).replace(/^v/, ""),
      baseUrl: (values["base-url"] ?? `${homepage}/releases/download`).replace(/\/+$/, ""),
      homepage,
      sums: parseSums(text),
    });
    for (const path of written) console.error(`wrote ${path}`);
    return 0;
  } catch (e) {
    console.error(`channels: ${(e as Error).message}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(channelsMain(Deno.args));
