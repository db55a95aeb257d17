/**
 * libc through Deno's FFI, for the few system calls Deno has no API for (Linux only).
 *
 * @module
 */

/**
 * libc with `symbols`, or undefined where it cannot be had: not Linux, no FFI permission (asked without a
 * prompt, which would stop a service), or no `libc.so.6` to open. The caller closes it when done.
 */
export function openLibc<const S extends Deno.ForeignLibraryInterface>(
  symbols: S,
): Deno.DynamicLibrary<S> | undefined {
  if (Deno.build.os !== "linux" || Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
    return undefined;
  }
  try {
    return Deno.dlopen("libc.so.6", symbols);
  } catch {
    return undefined;
  }
}
