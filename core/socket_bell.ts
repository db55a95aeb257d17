/**
 * Watching a socket-passing bell (see `SocketPassing.connect` in `socket_pass.ts`) in this process's event loop,
 * through `node:net`: Deno has no way to watch a descriptor it did not open, and `node:net` can take one. Only
 * a receiver needs it; the edge, which sends, never loads `node:net`.
 *
 * @module
 */
import net from "node:net";
import type { WatchBell } from "./socket_pass.ts";

/**
 * A {@linkcode WatchBell} over `node:net`: `ring` at each arrival of bytes (dropped: a ring says only "look"),
 * `ended` once the socket has closed, whether its sender closed it or reading it failed.
 */
export const watchBell: WatchBell = (fd, ring, ended) => {
  let socket: net.Socket;
  try {
    socket = new net.Socket({ fd, readable: true, writable: false });
  } catch {
    return undefined;
  }
  socket.on("data", () => ring());
  socket.on("error", () => {});
  socket.once("close", () => ended());
  return { close: () => void socket.destroy() };
};
