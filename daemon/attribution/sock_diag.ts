/**
 * One TCP socket by its exact addresses, from the Linux kernel's `sock_diag` netlink interface (what `ss`
 * uses): a question of 72 bytes answered in about 15 µs, whatever the size of the machine's socket table.
 * Reading `/proc/net/tcp` instead prints every socket up to the wanted one, about 1.5 µs each, and a machine
 * that makes many short connections keeps thousands of them in TIME_WAIT.
 *
 * The encoding and decoding are pure; {@linkcode sockDiagQuery} does the system calls, through libc.
 *
 * @module
 */
import { openLibc } from "../../core/libc.ts";
import { ipv4Of } from "./ip.ts";
import type { ClientAddress } from "./types.ts";

/** A connected socket as the kernel describes it: its inode (0 once no process holds it) and owner's uid. */
export interface DiagSocket {
  inode: number;
  uid: number;
  /** Kernel TCP state: 0x01 established, 0x0A listen, … */
  state: number;
}

/**
 * Asks for the socket whose local end is `local` and remote end `remote`: the socket, `null` when the kernel
 * has none, `undefined` when the question could not be asked (then the caller reads the table instead).
 */
export type SocketQuery = (local: ClientAddress, remote: ClientAddress) => DiagSocket | null | undefined;

const AF_INET = 2;
const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0x80000;
const NETLINK_SOCK_DIAG = 4;
const SOCK_DIAG_BY_FAMILY = 20;
const NLM_F_REQUEST = 1;
const NLMSG_ERROR = 2;
const MSG_DONTWAIT = 0x40;
const IPPROTO_TCP = 6;
const NLMSG_HEADER = 16;
const TCP_LISTEN = 0x0a;
/** `struct inet_diag_req_v2`: family, protocol, ext, pad, states, then the 48-byte `inet_diag_sockid`. */
const REQUEST_BYTES = NLMSG_HEADER + 56;
/** `struct inet_diag_msg`: family, state, timer, retrans, the sockid, then expires, queues, uid and inode. */
const ANSWER_BYTES = NLMSG_HEADER + 72;

/**
 * The netlink message asking for the one IPv4 TCP socket from `local` to `remote` (a single lookup, not a
 * dump), with sequence number `seq`; undefined when either address is not IPv4. An IPv6 socket of a
 * dual-stack client connected to an IPv4 address is found by the same question.
 */
export function encodeSocketQuery(
  seq: number,
  local: ClientAddress,
  remote: ClientAddress,
): Uint8Array | undefined {
  const src = ipv4Of(local.ip);
  const dst = ipv4Of(remote.ip);
  if (!src || !dst) return undefined;
  const b = new Uint8Array(REQUEST_BYTES);
  const v = new DataView(b.buffer);
  v.setUint32(0, REQUEST_BYTES, true);
  v.setUint16(4, SOCK_DIAG_BY_FAMILY, true);
  v.setUint16(6, NLM_F_REQUEST, true);
  v.setUint32(8, seq, true);
  b[16] = AF_INET;
  b[17] = IPPROTO_TCP;
  v.setUint32(20, 0xffffffff, true);
  v.setUint16(24, local.port, false);
  v.setUint16(26, remote.port, false);
  b.set(src, 28);
  b.set(dst, 44);
  // INET_DIAG_NOCOOKIE: any socket with these addresses.
  v.setUint32(64, 0xffffffff, true);
  v.setUint32(68, 0xffffffff, true);
  return b;
}

/**
 * Reads the kernel's answer to the question numbered `seq`: the socket, `null` for "no such socket" (the
 * kernel's `ENOENT`), undefined for anything else (another question's answer, another error, a short read).
 */
export function decodeSocketAnswer(bytes: Uint8Array, seq: number): DiagSocket | null | undefined {
  if (bytes.length < NLMSG_HEADER + 4) return undefined;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (v.getUint32(8, true) !== seq) return undefined;
  const type = v.getUint16(4, true);
  if (type === NLMSG_ERROR) return v.getInt32(NLMSG_HEADER, true) === -2 ? null : undefined;
  if (type !== SOCK_DIAG_BY_FAMILY || bytes.length < ANSWER_BYTES) return undefined;
  return {
    state: bytes[NLMSG_HEADER + 1],
    uid: v.getUint32(NLMSG_HEADER + 64, true),
    inode: v.getUint32(NLMSG_HEADER + 68, true),
  };
}

const LIBC_SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  sendto: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"], result: "isize" },
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
} as const;

/**
 * libc, opened once per process when this module loads: it is mapped into every Linux Deno process already,
 * and a library opened by whatever first asks would be charged to that caller (a test's leak check, among
 * them).
 */
const LIBC = openLibc(LIBC_SYMBOLS);

/** The netlink socket questions go through, opened at the first one and kept; one per process, as is libc. */
let netlink = -1;
let seq = 0;
const KERNEL = new Uint8Array(12);
KERNEL[0] = AF_NETLINK;
const ANSWER = new Uint8Array(ANSWER_BYTES + 64);

/**
 * Asks the kernel over {@linkcode netlink}. A question that goes wrong closes the socket, so that a late answer
 * is never read as the next question's; the next question opens a new one. Questions never interleave: each
 * is asked and answered within one synchronous call.
 */
function ask(
  libc: NonNullable<typeof LIBC>,
  local: ClientAddress,
  remote: ClientAddress,
): DiagSocket | null | undefined {
  const { socket, sendto, recv, close } = libc.symbols;
  seq = (seq + 1) >>> 0;
  const question = encodeSocketQuery(seq, local, remote);
  if (!question) return undefined;
  if (netlink < 0) netlink = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (netlink < 0) return undefined;
  // The kernel answers a single lookup while it takes the question, so the answer is queued before `sendto`
  // returns; not waiting for it means a kernel that does otherwise can never hold the daemon.
  const sent = Number(sendto(netlink, question, BigInt(question.length), 0, KERNEL, KERNEL.length));
  const n = sent === question.length
    ? Number(recv(netlink, ANSWER, BigInt(ANSWER.length), MSG_DONTWAIT))
    : -1;
  const found = n > 0 ? decodeSocketAnswer(ANSWER.subarray(0, n), seq) : undefined;
  if (found === undefined) {
    close(netlink);
    netlink = -1;
  }
  return found;
}

/**
 * The {@linkcode SocketQuery} over the kernel's `sock_diag`. Undefined where it cannot work (not Linux, no
 * libc to call, no FFI permission, a kernel or sandbox that refuses the socket or the question, or answers but
 * does not find a listener of our own): then lookups read the socket tables.
 */
export function sockDiagQuery(): SocketQuery | undefined {
  const libc = LIBC;
  if (!libc) return undefined;
  const query: SocketQuery = (local, remote) => ask(libc, local, remote);
  return findsOwnListener(query) ? query : undefined;
}

/**
 * Whether `query` finds a socket known to exist: a listener opened for the question (asked for with no remote
 * end, the kernel's lookup falls back to the listener on the local address). Any answer is not enough: a
 * kernel whose TCP part of `sock_diag` is a module that could not be loaded answers "none" to every question,
 * which would read as no client ever found.
 */
export function findsOwnListener(query: SocketQuery): boolean {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const s = query({ ip: "127.0.0.1", port: listener.addr.port }, { ip: "0.0.0.0", port: 0 });
    return !!s && s.state === TCP_LISTEN && s.inode > 0;
  } finally {
    listener.close();
  }
}
