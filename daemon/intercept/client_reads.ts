/**
 * Holding a client connection's reads back for real. Deno 2.9's `node:tls` goes on reading the TCP socket
 * under a paused TLS socket and keeps what it decrypts in memory: pausing only stops it handing that on. So a
 * client sending faster than its provider takes the bytes (an upload over loopback against one over the
 * internet, every time) had the daemon take in its whole body: 100 MB sent over HTTP/1.1 to a provider
 * reading 160 KB/s grew the daemon by over 200 MB within a second. Pausing here also stops the reads of the
 * TCP socket under the TLS socket, so the bytes wait in the kernel's buffers and TCP's flow control holds the
 * client back, as the provider would without the meter. (HTTP/2 needs none of this: its windows bound what a
 * client may send.)
 *
 * @module
 */
import type { Duplex } from "node:stream";
import type { Socket } from "node:net";
import type { ReadControl } from "../upstream/flow.ts";

/** What the handle of Deno's `net.Socket` (`_handle`) offers to stop and restart reading the socket. */
interface NativeReads {
  readStop(): unknown;
  readStart(): unknown;
}

/** Sockets whose TCP reads are stopped, with the handle that restarts them. */
const stopped = new WeakMap<Duplex, NativeReads>();

/** The TCP socket under a server-side TLS socket (node:tls keeps it as `_parent`). */
export function parentOf(s: Duplex): Socket | undefined {
  return (s as unknown as { _parent?: Socket })._parent;
}

/** Pauses `socket`, and stops reading the TCP socket under it when it is a TLS socket. */
export function pauseReads(socket: Duplex): void {
  socket.pause();
  if (stopped.has(socket)) return;
  const handle = (parentOf(socket) as { _handle?: NativeReads | null } | undefined)?._handle;
  if (typeof handle?.readStop !== "function" || typeof handle.readStart !== "function") return;
  handle.readStop();
  stopped.set(socket, handle);
}

/** Undoes {@linkcode pauseReads}, whoever paused it; resumes a socket paused by `pause()` alone too. */
export function resumeReads(socket: Duplex): void {
  const handle = stopped.get(socket);
  if (handle) {
    stopped.delete(socket);
    handle.readStart();
  }
  socket.resume();
}

/** {@linkcode pauseReads} and {@linkcode resumeReads} for `socket`, as a body's sender is paused. */
export function clientReads(socket: Duplex): ReadControl {
  return { pause: () => pauseReads(socket), resume: () => resumeReads(socket) };
}
