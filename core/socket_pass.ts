/**
 * Passing a connected socket from one process to another (Linux): the edge gives a metered client's socket to
 * the daemon, which then reads and writes it itself, so that the edge relays none of that connection's bytes.
 * The socket travels as `SCM_RIGHTS` ancillary data over a Unix `SOCK_SEQPACKET` socket, with a payload of
 * the sender's choosing; the calls go to libc through Deno's FFI.
 *
 * Where this cannot work (not Linux, no libc, no FFI permission) {@linkcode openSocketPassing} gives nothing and
 * the callers keep relaying bytes.
 *
 * @module
 */

import { ipv4Octets } from "./ipv4.ts";
import { openLibc } from "./libc.ts";

const AF_UNIX = 1;
const AF_INET = 2;
const SOCK_STREAM = 1;
const SOCK_SEQPACKET = 5;
const SOCK_NONBLOCK = 0x800;
const SOCK_CLOEXEC = 0x80000;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;
const MSG_TRUNC = 0x20;
const MSG_CTRUNC = 0x8;
const MSG_CMSG_CLOEXEC = 0x40000000;
const SHUT_RD = 0;
const SHUT_RDWR = 2;
const IPPROTO_TCP = 6;
const TCP_INFO = 11;
const TCP_QUICKACK = 12;
/**
 * Where `struct tcp_info` keeps `tcpi_notsent_bytes` (bytes written and not sent yet) and `tcpi_data_segs_out`
 * (segments with data sent), and how much of it the kernel must fill for both to be there.
 */
const TCPI_NOTSENT_BYTES = 144;
const TCPI_DATA_SEGS_OUT = 156;
const TCP_INFO_WRITTEN_BYTES = 160;
const POLLIN = 0x1;
const POLLRDHUP = 0x2000;
const CLOCK_MONOTONIC = 1;
/** An `int` of 1, for a socket option turned on. */
const ONE = new Uint8Array(new Int32Array([1]).buffer);
const EPOLL_CTL_ADD = 1;
const EPOLL_CTL_DEL = 2;
/**
 * TCP states (`tcpi_state`) in which the socket has sent its FIN or is closed: FIN_WAIT1, FIN_WAIT2,
 * TIME_WAIT, CLOSE, LAST_ACK, CLOSING.
 */
const SENT_FIN = new Set([4, 5, 6, 7, 9, 11]);
/** How many descriptors in a row that are not connected sockets end the quick search for one. */
const MAX_MISSES = 64;
/** How many failed calls in a row end a loop that waits on a socket. */
const MAX_FAILED_CALLS = 8;
/** `sun_path` is 108 bytes with its terminating zero. */
const MAX_PATH_BYTES = 107;
/** `struct msghdr` on 64-bit Linux: name, namelen (+4), iov, iovlen, control, controllen, flags (+4). */
const MSGHDR_BYTES = 56;
/** `struct cmsghdr`: len (size_t), level, type; the data follows. */
const CMSGHDR_BYTES = 16;

/**
 * Characters of the token the edge names a passed socket by (16 random bytes in hex): the payload starts with
 * it, and the bytes the client sent after its `CONNECT` follow.
 */
export const PASS_TOKEN_CHARS = 32;

/**
 * The payload of the message that gives a receiver its sender's bell: the end of a socket pair on which the
 * sender writes a byte after each socket it sends (see {@linkcode SocketPassing.connect}).
 */
const BELL = new TextEncoder().encode("BELL");
/** What a sender writes on its bell. */
const RING = new Uint8Array([1]);

/** The largest payload {@linkcode SocketReceiver} takes; a longer one is refused with its socket. */
export const MAX_PAYLOAD_BYTES = 32 * 1024;

/** The largest reply a sender reads whole; a receiver's replies are tokens. */
const MAX_REPLY_BYTES = 256;

const LIBC_SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  socketpair: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  listen: { parameters: ["i32", "i32"], result: "i32" },
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  accept4: { parameters: ["i32", "pointer", "pointer", "i32"], result: "i32", nonblocking: true },
  recvmsg: { parameters: ["i32", "buffer", "i32"], result: "isize", nonblocking: true },
  recvmsgNow: { name: "recvmsg", parameters: ["i32", "buffer", "i32"], result: "isize" },
  sendmsg: { parameters: ["i32", "buffer", "i32"], result: "isize" },
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
  epoll_ctl: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
} as const;

type Libc = Deno.DynamicLibrary<typeof LIBC_SYMBOLS>["symbols"];

/**
 * Socket passing through libc, opened for the caller, who closes it when done; undefined where it cannot work
 * ({@linkcode openLibc}). Opened on demand rather than when this module loads: Deno's FFI costs a process
 * about 3.5 MB of memory once used, which an edge that meters nothing need not pay.
 */
export function openSocketPassing(): SocketPassing | undefined {
  const library = openLibc(LIBC_SYMBOLS);
  return library && linuxPassing(library.symbols, () => library.close());
}

/** An IPv4 socket address. */
export interface Inet4Address {
  ip: string;
  port: number;
}

/**
 * A socket received: its descriptor, now this process's to use or close, the payload sent with it, and a way
 * to answer its sender.
 */
export interface ReceivedSocket {
  fd: number;
  payload: Uint8Array;
  /**
   * Sends `payload` back to the sender on the connection the socket came by, without waiting: false when it
   * could not be sent whole at once (the sender gone, its queue full).
   */
  reply(payload: Uint8Array): boolean;
}

/** A bell being watched; see {@linkcode WatchBell}. */
export interface Bell {
  /** Stops watching, and closes the bell's descriptor. */
  close(): void;
}

/**
 * Watches the bell `fd` (a stream socket) in the receiver's event loop: `ring` each time bytes arrive (they
 * may be read and dropped), `ended` once its sender has closed it. Undefined when it cannot be watched; the
 * receiver then closes it.
 */
export type WatchBell = (fd: number, ring: () => void, ended: () => void) => Bell | undefined;

/** A listening Unix socket that takes passed sockets; see {@linkcode SocketPassing.listen}. */
export interface SocketReceiver {
  /** Where senders send. */
  readonly path: string;
  /**
   * Takes no more sockets: a sender's next send fails at once (and no new sender can connect), while the
   * sockets already on their way are still handed to `onSocket`. The connections of senders stay open, so
   * that senders holding copies of sockets passed earlier keep them until {@linkcode SocketReceiver.close}.
   */
  stopTaking(): void;
  /** Stops taking sockets, closes the connections of senders, and removes the path. */
  close(): Promise<void>;
}

/** A connection to one receiver, for sending it sockets. */
export interface SocketSender {
  /**
   * Sends a duplicate of descriptor `fd` with `payload` (not empty), without waiting: false when it could not
   * be sent at once (the receiver gone, its queue full), and then nothing was sent. The caller still holds
   * `fd` either way and closes its own copy.
   */
  send(fd: number, payload: Uint8Array): boolean;
  /**
   * Hands the receiver's replies already queued to the `onReply` given to {@linkcode SocketPassing.connect}, at
   * once, rather than when the connection is next looked at.
   */
  takeReplies(): void;
  /** Settles once the receiver has gone (its process stopped or closed the socket) or the sender is closed. */
  readonly gone: Promise<void>;
  /** Closes the connection; {@linkcode SocketSender.gone} settles. */
  close(): Promise<void>;
}

/** What this process can do with sockets of its own and of others. */
export interface SocketPassing {
  /**
   * The descriptor of this process's TCP socket from `local` to `remote`, found among its open descriptors
   * other than `skip`'s; undefined when there is none.
   */
  descriptorOf(
    local: Inet4Address,
    remote: Inet4Address,
    skip?: { has(fd: number): boolean },
  ): number | undefined;
  /**
   * A connection to the receiver at `path`, whose replies go to `onReply`; undefined when none listens there
   * (or it takes no more sockets). With `ring`, for a receiver that watches bells (one made with a
   * {@linkcode WatchBell}), the connection's first message gives the receiver a bell that rings after each
   * socket sent: the receiver's event loop then wakes for it directly rather than through a thread blocked in
   * `recvmsg` (docs/speed.md). A receiver that does not watch bells closes it, and nothing else changes.
   */
  connect(path: string, onReply?: (payload: Uint8Array) => void, ring?: boolean): SocketSender | undefined;
  /**
   * Binds `path` (replacing a file left there), private to this user, and calls `onSocket` for each socket
   * passed to it (what it throws is ignored: it owns the socket once called). Undefined when it cannot be
   * bound (a path over 107 bytes, a folder that is not there or not writable). With `watchBell`, a sender's
   * bell is watched in the caller's event loop and that sender's sockets are taken when it rings.
   */
  listen(
    path: string,
    onSocket: (socket: ReceivedSocket) => void,
    watchBell?: WatchBell,
  ): SocketReceiver | undefined;
  /**
   * Whether the TCP socket `fd` has ended its sending side (sent its FIN, or is closed): whoever it was passed
   * to is done writing to it, and this process may close its own copy without cutting anything short.
   */
  sendingEnded(fd: number): boolean;
  /**
   * Has the kernel acknowledge what the TCP socket `fd` received so far now, not when its delayed-ACK timer
   * fires (`TCP_QUICKACK`). A client that leaves Nagle's algorithm on holds a small write until its data in
   * flight is acknowledged, and on loopback, where a segment can be 64 KiB, most writes are small: a receiver
   * that acknowledges late holds such a client's upload up to 40 ms at a time.
   */
  ackNow(fd: number): void;
  /**
   * Whether anything was ever written to the TCP socket `fd`, by any process holding it (sent, or queued to
   * be); undefined where the kernel does not say (before Linux 4.6).
   */
  written(fd: number): boolean | undefined;
  /**
   * Takes descriptor `fd` out of this process's event loop, where Deno registered it, so that a socket another
   * process now reads and writes no longer wakes this one at each of its packets. Returns what puts it back,
   * to be called in the same synchronous run as closing it: Deno takes it out again when it closes it and
   * expects to find it there. Undefined when it was not found in any event loop of this process.
   */
  unwatch(fd: number): (() => void) | undefined;
  /**
   * Shuts the TCP socket `fd` both ways and leaves it open: its peer sees the connection end even while another
   * process (the sender that passed it) still holds a copy, which closing this process's copy alone would not
   * do.
   */
  shut(fd: number): void;
  /**
   * Ends a socket received and not used: shut both ways, so that its client and its sender (which may hold a
   * copy until then) see it end, then closed.
   */
  refuse(fd: number): void;
  /**
   * Closes this process's copy of a socket received and not used, leaving the connection as it was: its
   * sender, which still holds a copy, may serve it after all.
   */
  giveBack(fd: number): void;
  /**
   * Writes `bytes` to the socket `fd` at once, without waiting: false when they could not all be written (the
   * connection ended).
   */
  writeNow(fd: number, bytes: Uint8Array): boolean;
  /**
   * Milliseconds of `CLOCK_MONOTONIC`: one clock for every process of the machine, so that a deadline one
   * process sets can be checked by another.
   */
  now(): number;
  /** Lets go of libc: only once every sender and receiver it made is closed and done. */
  close(): void;
}

/** `struct sockaddr_un` for `path`, or undefined when the path is too long. */
export function unixAddress(path: string): Uint8Array | undefined {
  const name = new TextEncoder().encode(path);
  if (name.length === 0 || name.length > MAX_PATH_BYTES || name.includes(0)) return undefined;
  const b = new Uint8Array(new ArrayBuffer(2 + name.length + 1));
  b[0] = AF_UNIX;
  b.set(name, 2);
  return b;
}

/**
 * The first 8 bytes of `struct sockaddr_in` for `address` (family, port, address), as `getsockname` fills
 * them; undefined when it is not an IPv4 address.
 */
export function inet4Bytes(address: Inet4Address): Uint8Array | undefined {
  const octets = ipv4Octets(address.ip);
  if (!octets) return undefined;
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint16(0, AF_INET, true);
  v.setUint16(2, address.port, false);
  b.set(octets, 4);
  return b;
}

/**
 * The descriptors in the `SCM_RIGHTS` messages of `control` (the ancillary bytes `recvmsg` filled), in order.
 */
export function descriptorsIn(control: Uint8Array): number[] {
  const v = new DataView(control.buffer, control.byteOffset, control.byteLength);
  const fds: number[] = [];
  for (let off = 0; off + CMSGHDR_BYTES <= control.length;) {
    const len = Number(v.getBigUint64(off, true));
    if (len < CMSGHDR_BYTES || off + len > control.length) break;
    if (v.getInt32(off + 8, true) === SOL_SOCKET && v.getInt32(off + 12, true) === SCM_RIGHTS) {
      for (let p = off + CMSGHDR_BYTES; p + 4 <= off + len; p += 4) fds.push(v.getInt32(p, true));
    }
    off += (len + 7) & ~7;
  }
  return fds;
}

/** Memory libc reads or writes: off the V8 heap, so that it never moves during a call on another thread. */
function bytes(n: number): Uint8Array {
  return new Uint8Array(new ArrayBuffer(n));
}

function address(b: Uint8Array): bigint {
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(b as Uint8Array<ArrayBuffer>)));
}

/**
 * A `struct msghdr` over one payload buffer and one control buffer (no address). libc only holds their
 * addresses: whoever uses `header` keeps the object, and with it the memory those addresses name.
 */
function messageHeader(payload: Uint8Array, control: Uint8Array) {
  const iov = bytes(16);
  const iv = new DataView(iov.buffer);
  iv.setBigUint64(0, address(payload), true);
  iv.setBigUint64(8, BigInt(payload.length), true);
  const header = bytes(MSGHDR_BYTES);
  const hv = new DataView(header.buffer);
  hv.setBigUint64(16, address(iov), true);
  hv.setBigUint64(24, 1n, true);
  hv.setBigUint64(32, address(control), true);
  hv.setBigUint64(40, BigInt(control.length), true);
  return { header, iov, payload, control };
}

/**
 * A bell: a socket pair whose one end `give` hands to the receiver; the other end, kept to ring, or -1 when the
 * pair could not be made or given.
 */
function ringingPair(libc: Libc, give: (theirs: number) => boolean): number {
  const pair = bytes(8);
  if (libc.socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) !== 0) return -1;
  const view = new DataView(pair.buffer);
  const mine = view.getInt32(0, true);
  const theirs = view.getInt32(4, true);
  const given = give(theirs);
  libc.close(theirs);
  if (given) return mine;
  libc.close(mine);
  return -1;
}

function linuxPassing(libc: Libc, release: () => void): SocketPassing {
  const sockaddr = bytes(128);
  const socklen = bytes(4);
  const lengthView = new DataView(socklen.buffer);
  const sendNow = (fd: number, data: Uint8Array) =>
    Number(libc.send(fd, data, BigInt(data.length), MSG_DONTWAIT | MSG_NOSIGNAL)) === data.length;
  const shut = (fd: number) => void libc.shutdown(fd, SHUT_RDWR);
  const refuse = (fd: number) => {
    shut(fd);
    libc.close(fd);
  };
  const tcpInfo = bytes(TCP_INFO_WRITTEN_BYTES);
  const tcpInfoView = new DataView(tcpInfo.buffer);
  const timespec = bytes(16);
  const timespecView = new DataView(timespec.buffer);
  // `struct epoll_event` (12 bytes on x86-64, 16 elsewhere), no events: deleting ignores it, and an entry put
  // back only to be deleted again in the same run never reaches `epoll_wait`.
  const noEvents = bytes(16);
  let epolls: number[] | undefined;
  /** Where {@linkcode SocketPassing.descriptorOf} last found a socket. */
  let lastFound = 0;
  const eventLoops = () =>
    epolls ??= [...Deno.readDirSync("/proc/self/fd")].map((e) => Number(e.name)).filter((fd) => {
      try {
        return Number.isInteger(fd) && Deno.readLinkSync(`/proc/self/fd/${fd}`) === "anon_inode:[eventpoll]";
      } catch {
        return false;
      }
    });
  return {
    unwatch(fd) {
      for (const ep of eventLoops()) {
        if (libc.epoll_ctl(ep, EPOLL_CTL_DEL, fd, noEvents) === 0) {
          return () => libc.epoll_ctl(ep, EPOLL_CTL_ADD, fd, noEvents);
        }
      }
      return undefined;
    },

    written(fd) {
      lengthView.setUint32(0, TCP_INFO_WRITTEN_BYTES, true);
      if (libc.getsockopt(fd, IPPROTO_TCP, TCP_INFO, tcpInfo, socklen) !== 0) return undefined;
      if (lengthView.getUint32(0, true) < TCP_INFO_WRITTEN_BYTES) return undefined;
      return tcpInfoView.getUint32(TCPI_DATA_SEGS_OUT, true) > 0 ||
        tcpInfoView.getUint32(TCPI_NOTSENT_BYTES, true) > 0;
    },

    ackNow(fd) {
      libc.setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, ONE, 4);
    },

    sendingEnded(fd) {
      // Only the first byte (`tcpi_state`) is wanted; the kernel copies no more than it is given room for.
      lengthView.setUint32(0, 1, true);
      if (libc.getsockopt(fd, IPPROTO_TCP, TCP_INFO, tcpInfo, socklen) !== 0) return true;
      return SENT_FIN.has(tcpInfo[0]);
    },

    descriptorOf(local, remote, skip) {
      const peer = inet4Bytes(remote);
      const own = inet4Bytes(local);
      if (!peer || !own) return undefined;
      const is = (get: typeof libc.getpeername, fd: number, want: Uint8Array) => {
        lengthView.setUint32(0, sockaddr.length, true);
        if (get(fd, sockaddr, socklen) !== 0) return undefined;
        for (let i = 0; i < want.length; i++) if (sockaddr[i] !== want[i]) return false;
        return true;
      };
      const matches = (fd: number) =>
        !skip?.has(fd) && is(libc.getpeername, fd, peer) === true && is(libc.getsockname, fd, own) === true;
      const found = (fd: number) => (lastFound = fd);
      // A connection's descriptor is most often the one the last connection had, freed since and taken again.
      for (const fd of [lastFound, lastFound + 1, lastFound - 1]) {
        if (fd >= 3 && matches(fd)) return found(fd);
      }
      // Descriptors are numbered from the lowest free one, so the new socket's lies among the first few that
      // are taken: ask them in order, up to a run of numbers that are no connected socket at all.
      for (let fd = 3, misses = 0; misses < MAX_MISSES; fd++) {
        if (skip?.has(fd)) {
          misses = 0;
          continue;
        }
        const connected = is(libc.getpeername, fd, peer);
        misses = connected === undefined ? misses + 1 : 0;
        if (connected && is(libc.getsockname, fd, own)) return found(fd);
      }
      for (const entry of Deno.readDirSync("/proc/self/fd")) {
        const fd = Number(entry.name);
        if (Number.isInteger(fd) && matches(fd)) return found(fd);
      }
      return undefined;
    },

    connect(path, onReply, ring = false) {
      const to = unixAddress(path);
      if (!to) return undefined;
      const conn = libc.socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (conn < 0) return undefined;
      if (libc.connect(conn, to, to.length) !== 0) {
        libc.close(conn);
        return undefined;
      }
      /** Sends descriptor `fd` with `payload` (not empty) at once, whole or not at all. */
      const sendWith = (fd: number, payload: Uint8Array) => {
        const data = bytes(payload.length);
        data.set(payload);
        const control = bytes(CMSGHDR_BYTES + 8);
        const cv = new DataView(control.buffer);
        cv.setBigUint64(0, BigInt(CMSGHDR_BYTES + 4), true);
        cv.setInt32(8, SOL_SOCKET, true);
        cv.setInt32(12, SCM_RIGHTS, true);
        cv.setInt32(16, fd, true);
        const message = messageHeader(data, control);
        return Number(libc.sendmsg(conn, message.header, MSG_DONTWAIT | MSG_NOSIGNAL)) === payload.length;
      };
      const bell = ring ? ringingPair(libc, (theirs) => sendWith(theirs, BELL)) : -1;
      const pollfd = bytes(8);
      const pv = new DataView(pollfd.buffer);
      pv.setInt32(0, conn, true);
      pv.setInt16(4, POLLIN | POLLRDHUP, true);
      const reply = bytes(MAX_REPLY_BYTES);
      let open = true;
      /** Hands on every reply queued; false once the receiver has closed its end. */
      const takeReplies = () => {
        while (open) {
          const n = Number(libc.recv(conn, reply, BigInt(reply.length), MSG_DONTWAIT));
          if (n === 0) return false;
          if (n < 0) return true;
          try {
            onReply?.(reply.slice(0, n));
          } catch {
            // The sender's owner handles its own failures; later replies still arrive.
          }
        }
        return false;
      };
      const gone = (async () => {
        // A signal interrupts a poll (it is never restarted); anything else failing again and again is an end.
        for (let failed = 0; open && failed < MAX_FAILED_CALLS;) {
          const ready = await libc.poll(pollfd, 1n, -1);
          failed = ready < 0 ? failed + 1 : 0;
          // Anything but readable (hung up, shut, failed) ends it, once the replies sent before are taken.
          if (ready > 0 && (!takeReplies() || pv.getInt16(6, true) & ~POLLIN)) break;
        }
        open = false;
        libc.close(conn);
        if (bell >= 0) libc.close(bell);
      })();
      return {
        gone,
        takeReplies() {
          takeReplies();
        },
        send(fd, payload) {
          if (!open || payload.length === 0 || !sendWith(fd, payload)) return false;
          // A ring that does not fit finds one the receiver has not read yet: it looks at every socket queued.
          if (bell >= 0) libc.send(bell, RING, BigInt(RING.length), MSG_DONTWAIT | MSG_NOSIGNAL);
          return true;
        },
        close() {
          // The poll waiting on another thread returns once the socket is shut down.
          if (open) libc.shutdown(conn, SHUT_RDWR);
          return gone;
        },
      };
    },

    listen(path, onSocket, watchBell) {
      const at = unixAddress(path);
      if (!at) return undefined;
      try {
        Deno.removeSync(path);
      } catch { /* nothing left there */ }
      const listener = libc.socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
      if (listener < 0) return undefined;
      if (libc.bind(listener, at, at.length) !== 0 || libc.listen(listener, 64) !== 0) {
        libc.close(listener);
        return undefined;
      }
      // Connecting takes write permission on the file: only this user's processes may pass sockets to it.
      Deno.chmodSync(path, 0o600);
      let closed = false;
      let stopped = false;
      const conns = new Set<number>();
      /** The connections whose sockets are taken when their bells ring, with what takes them. */
      const belled = new Map<number, { bell: Bell; drain: () => void }>();
      const receiving = new Set<Promise<void>>();
      const track = (r: Promise<void>) => {
        receiving.add(r);
        r.finally(() => receiving.delete(r));
      };
      /** Takes the sockets the sender on `conn` sends, until it goes. */
      const receive = (conn: number) => {
        const message = messageHeader(bytes(MAX_PAYLOAD_BYTES + 1), bytes(CMSGHDR_BYTES + 4 * 8));
        const { payload, control } = message;
        const hv = new DataView(message.header.buffer);
        /** Hands on the message `recvmsg` left in the buffers, `n` bytes of it. */
        const take = (n: number) => {
          const [fd, ...extra] = descriptorsIn(control.subarray(0, Number(hv.getBigUint64(40, true))));
          for (const e of extra) refuse(e);
          if (fd === undefined) return;
          if (closed || n > MAX_PAYLOAD_BYTES || hv.getInt32(48, true) & (MSG_TRUNC | MSG_CTRUNC)) {
            return refuse(fd);
          }
          if (n === BELL.length && BELL.every((b, i) => payload[i] === b)) {
            const bell = belled.has(conn) ? undefined : watchBell?.(fd, rung, unwatched);
            if (bell) belled.set(conn, { bell, drain });
            else refuse(fd);
            return;
          }
          try {
            onSocket({
              fd,
              payload: payload.slice(0, n),
              reply: (bytes) => sendNow(conn, bytes),
            });
          } catch {
            // The receiver's owner keeps what it took; this connection's later sockets still arrive.
          }
        };
        /** Takes every message already queued, without waiting; false once the sender has gone. */
        const drain = (): boolean => {
          while (!closed && conns.has(conn)) {
            hv.setBigUint64(40, BigInt(control.length), true);
            const n = Number(libc.recvmsgNow(conn, message.header, MSG_CMSG_CLOEXEC | MSG_DONTWAIT));
            if (n <= 0) return n < 0;
            take(n);
          }
          return false;
        };
        /** Ends the connection, its sender gone; stopped, it stays open for the sender's sake until the close. */
        const finish = () => {
          if ((stopped && !closed) || !conns.delete(conn)) return;
          belled.get(conn)?.bell.close();
          belled.delete(conn);
          libc.close(conn);
        };
        const rung = () => {
          if (!drain()) finish();
        };
        // The bell went while its connection is open (its sender closed only the bell, or the watch failed):
        // a blocked thread reads the connection again, so that no socket waits for a ring.
        const unwatched = () => {
          const watched = belled.get(conn);
          if (!watched) return;
          belled.delete(conn);
          watched.bell.close();
          if (drain()) track(blocked());
          else finish();
        };
        /** Waits for messages on one of Deno's blocking threads, until the sender goes or gives a bell. */
        const blocked = async () => {
          let over = false;
          for (let failed = 0; !closed && !over && !belled.has(conn) && failed < MAX_FAILED_CALLS;) {
            hv.setBigUint64(40, BigInt(control.length), true);
            const n = Number(await libc.recvmsg(conn, message.header, MSG_CMSG_CLOEXEC));
            // A signal can interrupt the call; an error that stays (the connection broken) ends it.
            failed = n < 0 ? failed + 1 : 0;
            if (n <= 0) {
              over = n === 0;
              continue;
            }
            take(n);
            // A burst of connections queues many sockets: take every one already there in this same turn,
            // rather than one per turn of a busy event loop.
            over = !drain();
          }
          // Given a bell, the sender rings after each socket: they are taken then, by this process's own thread.
          if (belled.has(conn) && !over && !closed) return;
          finish();
        };
        track(blocked());
      };
      const accepting = (async () => {
        for (let failed = 0; !closed && !stopped && failed < MAX_FAILED_CALLS;) {
          const conn = await libc.accept4(listener, null, null, SOCK_CLOEXEC);
          if (conn >= 0 && (closed || stopped)) libc.close(conn);
          if (conn < 0 || closed || stopped) {
            // Out of descriptors for a moment, or interrupted: wait a little rather than spin.
            failed++;
            if (!closed && !stopped) await new Promise((r) => setTimeout(r, 10 * failed));
            continue;
          }
          failed = 0;
          conns.add(conn);
          receive(conn);
        }
      })();
      return {
        path,
        stopTaking() {
          if (stopped || closed) return;
          stopped = true;
          // A blocked accept returns once the listener is shut down; a connection shut for reading fails its
          // sender's next send, and its receiver reads what was queued before, then its end.
          libc.shutdown(listener, SHUT_RDWR);
          for (const c of conns) libc.shutdown(c, SHUT_RD);
          // No bell rings for a send that fails: what is queued on a belled connection is taken now.
          for (const { drain } of belled.values()) queueMicrotask(drain);
        },
        async close() {
          if (closed) return;
          closed = true;
          // A blocked accept or recvmsg returns once its socket is shut down.
          libc.shutdown(listener, SHUT_RDWR);
          for (const c of conns) libc.shutdown(c, SHUT_RDWR);
          await accepting;
          await Promise.all([...receiving]);
          for (const { bell } of belled.values()) bell.close();
          belled.clear();
          for (const c of conns) libc.close(c);
          conns.clear();
          libc.close(listener);
          try {
            Deno.removeSync(path);
          } catch { /* removed already */ }
        },
      };
    },

    shut,
    refuse,
    giveBack(fd) {
      libc.close(fd);
    },
    writeNow: sendNow,
    now() {
      libc.clock_gettime(CLOCK_MONOTONIC, timespec);
      return Number(timespecView.getBigInt64(0, true)) * 1000 +
        Number(timespecView.getBigInt64(8, true)) / 1e6;
    },
    close: release,
  };
}
