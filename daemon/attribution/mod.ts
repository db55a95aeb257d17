/**
 * Attribution (README.md, "Attribution"): which project made each call. The daemon builds one {@linkcode
 * Attributor} with the lookup of its OS and calls `resolve` once per client connection, off the request path:
 *
 * ```ts
 * const attributor = new Attributor({ lookup: processLookupFor(currentOs()), defaultProject });
 * const pending = attributor.resolve({ ip, port, explicitProject }); // at CONNECT
 * const { project, layer, client_process } = await pending;          // when writing the row
 * ```
 *
 * @module
 */
import type { OsName } from "../../core/paths.ts";
import { darwinLookup } from "./darwin.ts";
import { linuxLookup } from "./linux.ts";
import { commandRunner } from "./runner.ts";
import { sockDiagQuery } from "./sock_diag.ts";
import type { CommandRunner, ProcessLookup } from "./types.ts";
import { windowsLookup } from "./windows.ts";

export { Attributor, type AttributorOptions, type ClientRef, processName } from "./attributor.ts";
export { toSlug } from "../../core/slug.ts";
export { realFsView } from "./fs_view.ts";
export type {
  Attribution,
  ClientAddress,
  CommandRunner,
  FsView,
  Layer,
  ProcessInfo,
  ProcessLookup,
} from "./types.ts";
export { LAYERS } from "./types.ts";

/** The client-process lookup for `os`; `run` executes the tools macOS and Windows need. */
export function processLookupFor(
  os: OsName,
  run: CommandRunner = commandRunner(),
  peerPorts: readonly number[] = [],
): ProcessLookup {
  switch (os) {
    case "linux":
      return linuxLookup({ peerPorts, socketQuery: sockDiagQuery() });
    case "darwin":
      return darwinLookup(run);
    case "windows":
      return windowsLookup(run);
  }
}
