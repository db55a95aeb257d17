/**
 * `config.toml` as the edge reads it, for the commands that point programs at the edge (`run`, `env`).
 *
 * @module
 */
import { loadConfig, type LoadedConfig } from "../core/config.ts";
import type { Io } from "./command.ts";

/**
 * Loads the config leniently, as the edge does: a program pointed at the edge must not be refused over a
 * config the edge itself runs past. Its warnings, and what it had to ignore, go to stderr.
 */
export function edgeConfig(io: Io): LoadedConfig {
  const loaded = loadConfig(io.paths.config, { lenient: true });
  for (const w of loaded.warnings) io.stderr(`warning: ${w}\n`);
  for (const e of loaded.ignored) {
    io.stderr(`warning: ${e} (ignored: the edge runs on defaults in its place)\n`);
  }
  return loaded;
}
