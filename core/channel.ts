/**
 * Which channel this copy of the program came from, so `--version`, `status` and `doctor` can tell support how
 * to upgrade it or roll it back. A channel that installs the binary (the install script, the fleet rollout, the
 * Homebrew formula, the Scoop manifest) writes a {@linkcode CHANNEL_MARKER} file beside it; Homebrew's and
 * Scoop's own folders are recognised even without one.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { entryModule } from "./entry.ts";

/** The file a channel writes beside the binary: JSON, {@linkcode ChannelMarker}. */
export const CHANNEL_MARKER = "halton-meter.channel";

/** Where a copy of the program came from. */
export type ChannelName =
  | "install-script"
  | "fleet"
  | "homebrew"
  | "scoop"
  | "download"
  | "bundle"
  | "source";

/** The marker file's content. */
export interface ChannelMarker {
  channel: ChannelName;
  /** The release base URL the binary was downloaded from, when the channel knows it. */
  source?: string;
}

/** A channel and what to run to upgrade or roll back a copy from it. */
export interface Channel {
  name: ChannelName;
  upgrade: string;
  rollback: string;
  /** The marker file it was read from, if any. */
  marker?: string;
}

/** What {@linkcode channelOf} looks at. */
export interface ChannelInput {
  /** True inside a `deno compile`d binary. */
  standalone: boolean;
  /** The binary, or the `deno` running the program. */
  execPath: string;
  /** The entry module's URL. */
  entry: string;
  /** Reads a marker file; undefined when it is absent. */
  readMarker: (path: string) => string | undefined;
}

const MARKED: readonly ChannelName[] = ["install-script", "fleet", "homebrew", "scoop"];

/** The channel of the program described by `input`. Pure apart from `readMarker`. */
export function channelOf(input: ChannelInput): Channel {
  if (!input.standalone) {
    return describeChannel(input.entry.endsWith("/main.ts") ? "source" : "bundle");
  }
  const markerPath = join(dirname(input.execPath), CHANNEL_MARKER);
  const marked = parseMarker(input.readMarker(markerPath));
  if (marked) return { ...describeChannel(marked.channel, marked.source), marker: markerPath };
  const path = input.execPath.replaceAll("\\", "/").toLowerCase();
  if (path.includes("/cellar/halton-meter/")) return describeChannel("homebrew");
  if (path.includes("/scoop/apps/halton-meter/")) return describeChannel("scoop");
  return describeChannel("download");
}

/** The upgrade and rollback advice of a channel. */
export function describeChannel(name: ChannelName, source?: string): Channel {
  const from = source ? ` (from ${source})` : "";
  switch (name) {
    case "install-script":
      return describe(
        name,
        `run the install script again${from}; it runs init`,
        "run the install script with HALTON_METER_VERSION=<previous version>",
      );
    case "fleet":
      return describe(
        name,
        "halton-meter-rollout.sh --version <new version>",
        "halton-meter-rollout.sh --rollback (the previous binary is kept beside this one)",
      );
    case "homebrew":
      return describe(
        name,
        "brew upgrade halton-meter && halton-meter init",
        "brew uninstall halton-meter, install the previous formula, then halton-meter init",
      );
    case "scoop":
      return describe(
        name,
        "scoop update halton-meter; halton-meter init",
        "scoop reset halton-meter@<previous version>; halton-meter init",
      );
    case "download":
      return describe(
        name,
        "replace this binary with a newer release's (check it against SHA256SUMS), then halton-meter init",
        "put the previous binary back, then halton-meter init",
      );
    case "bundle":
      return describe(name, "bundle main.ts again", "put the previous bundled file back");
    case "source":
      return describe(name, "git pull in the checkout", "git checkout <previous tag> in the checkout");
  }
}

function describe(name: ChannelName, upgrade: string, rollback: string): Channel {
  return { name, upgrade, rollback };
}

/** A marker's content, or undefined when it is absent or not one (a stray file never breaks `--version`). */
export function parseMarker(text: string | undefined): ChannelMarker | undefined {
  if (text === undefined) return undefined;
  try {
    const m = JSON.parse(text) as Partial<ChannelMarker>;
    if (typeof m.channel !== "string" || !MARKED.includes(m.channel as ChannelName)) return undefined;
    return { channel: m.channel, ...(typeof m.source === "string" ? { source: m.source } : {}) };
  } catch {
    return undefined;
  }
}

/** This process's channel. */
export function currentChannel(): Channel {
  return channelOf({
    standalone: Deno.build.standalone,
    execPath: Deno.execPath(),
    entry: entryModule(),
    readMarker(path) {
      try {
        return Deno.readTextFileSync(path);
      } catch {
        return undefined;
      }
    },
  });
}
