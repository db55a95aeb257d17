/**
 * A connected TCP pair on loopback, for tests that need both ends of one real connection.
 *
 * @module
 */

/** Both ends of one loopback connection: the accepted one and the client's. */
export interface TcpPair {
  server: Deno.TcpConn;
  client: Deno.TcpConn;
}

/** Opens a connection to a listener of its own and accepts it; the listener is closed. */
export async function tcpPair(): Promise<TcpPair> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    return { server: await listener.accept(), client };
  } finally {
    listener.close();
  }
}
