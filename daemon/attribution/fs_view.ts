/**
 * The real file system as an {@linkcode FsView}: asynchronous, so walking up folders never blocks the daemon's
 * event loop, and reads capped in size, because a file we look for (`.haltonrc`) could be anything.
 *
 * @module
 */
import type { FsView } from "./types.ts";

/** Files larger than this are not read: every file the layers read is a few lines long. */
export const MAX_READ_BYTES = 64 * 1024;

/** An {@linkcode FsView} over the real file system. */
export const realFsView: FsView = {
  async exists(path) {
    try {
      await Deno.lstat(path);
      return true;
    } catch {
      return false;
    }
  },
  async readText(path) {
    let file: Deno.FsFile | undefined;
    try {
      file = await Deno.open(path, { read: true });
      // procfs files report size 0, so read up to the cap rather than trusting stat.
      const buf = new Uint8Array(MAX_READ_BYTES + 1);
      let n = 0;
      while (n < buf.length) {
        const got = await file.read(buf.subarray(n));
        if (got === null) break;
        n += got;
      }
      return n > MAX_READ_BYTES ? undefined : new TextDecoder().decode(buf.subarray(0, n));
    } catch {
      return undefined;
    } finally {
      file?.close();
    }
  },
};
