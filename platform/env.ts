/**
 * The environment variables a mode sets for the whole session, as a list: the values come from
 * `platform/proxy_env.ts`, the one definition shared with `run` and `env`, so every path agrees.
 *
 * @module
 */
import { proxyEnv, type ProxyEnvOptions } from "./proxy_env.ts";
import type { EnvVar, InstallMode, PlatformContext } from "./types.ts";

/** The variables a mode sets: none in `env` mode, where only `run` meters; all of them in `apps` and `full`. */
export function modeVars(mode: InstallMode, options: ProxyEnvOptions): EnvVar[] {
  if (mode === "env") return [];
  return Object.entries(proxyEnv(options)).map(([name, value]) => ({ name, value }));
}

/** The variables of the context's mode, pointing at its edge port, CA and bundle. */
export function contextVars(ctx: PlatformContext): EnvVar[] {
  return modeVars(ctx.mode, {
    edgePort: ctx.ports.edge,
    caCert: ctx.paths.caCert,
    caBundle: ctx.paths.caBundle,
  });
}

/**
 * Keeps the first of names that differ only in case: Windows environment names are case-insensitive, so
 * `HTTPS_PROXY` and `https_proxy` are one variable there.
 */
export function caseInsensitiveUnique(vars: readonly EnvVar[]): EnvVar[] {
  const seen = new Set<string>();
  return vars.filter((v) => {
    const key = v.name.toUpperCase();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
