/** Free loopback ports for servers started by tests. */

const handedOut = new Set<number>();

/**
 * Returns a loopback TCP port that was free a moment ago and that this process
 * has not handed out before (so two servers of one test never collide).
 */
export function freePort(): number {
  for (let attempt = 0; attempt < 100; attempt++) {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error("No free loopback port found after 100 attempts");
}

/** Returns `count` distinct free loopback ports. */
export function freePorts(count: number): number[] {
  return Array.from({ length: count }, () => freePort());
}
