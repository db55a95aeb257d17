/**
 * The daemon's allocator settings on Linux, given in `GLIBC_TUNABLES` wherever the daemon is started (its
 * systemd units, the supervisor `start --detach` runs, `deno task start`): glibc reads them once, at the
 * process's start. `halton-meter up` run by hand has only what its caller gives it.
 *
 * Deno's `node:net` (under the daemon's `node:tls`, which every intercepted client speaks) reads each chunk
 * into a freshly allocated buffer that lives until V8 collects it, so a stream of reads keeps touching new
 * memory, one page fault per 4 KiB. On a virtual machine a fault costs several microseconds: reading a 1 MB
 * upload took 3.5 to 4.8 ms, most of it faults, against 0.13 ms for a native `Deno.Conn` read of the same
 * bytes. With `glibc.malloc.hugetlb=1` glibc asks for transparent huge pages for its heap (`madvise`, which
 * is what most distributions leave enabled), one fault per 2 MiB: the same read took 0.3 to 0.5 ms
 * (docs/speed.md). glibc before 2.35 ignores the setting, as does any other C library.
 *
 * @module
 */

/** What the daemon's `GLIBC_TUNABLES` holds. */
export const DAEMON_TUNABLES = "glibc.malloc.hugetlb=1";

/**
 * The `GLIBC_TUNABLES` to start the daemon with: `inherited` (the value its starter has) with the daemon's
 * settings after it, since a later setting of the same name wins.
 */
export function daemonTunables(inherited?: string): string {
  return inherited ? `${inherited}:${DAEMON_TUNABLES}` : DAEMON_TUNABLES;
}
