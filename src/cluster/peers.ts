/**
 * This node's view of the other nodes: a kept-up link to each, ranked by
 * measured round trip and health. Reads and writes this rack cannot serve go
 * to the fastest healthy node of another rack; replies of ops applied here
 * for another node of this rack are handed back to it.
 */

import { FrameType, PayloadReader, PayloadWriter } from "./peer_protocol.ts";
import { type PeerAddress, PeerClient, type PeerSelf, PeerUnavailable } from "./peer_client.ts";
import { PeerFlags } from "./peer_server.ts";
import type { Protocol } from "../resp/value.ts";
import type { Placement } from "../log/op_log.ts";
import type { Need } from "../applier/rack_progress.ts";
import { describe } from "../net/address.ts";

/** An empty read only asks whether the rack has applied its need (src/read/read_service.ts). */
const POSITION_PROBE = new Uint8Array(0);

/** A Read frame's payload: the db, protocol, encoded request and the positions it needs. */
function readPayload(db: number, protocol: Protocol, request: Uint8Array, need: Need): Uint8Array {
  const w = new PayloadWriter().u16(db).u8(protocol).bytes(request).u32(need.size);
  for (const [partition, position] of need) w.u32(partition).f64(position);
  return w.finish();
}

/** How long a forwarded request may take. */
export interface ForwardTimeouts {
  readMs: number;
  writeMs: number;
}

/** One peer as `PYLON INFO` shows it. */
export interface PeerStatus {
  id: string;
  rack: string;
  address: string;
  up: boolean;
  rttMs: number | undefined;
  servesReads: boolean;
  applies: boolean;
  lastError: string | undefined;
}

/** Every configured peer of this node. */
export class Peers {
  readonly self: PeerSelf;
  #clients: PeerClient[];
  #timeouts: ForwardTimeouts;

  constructor(self: PeerSelf, options: { peers: PeerAddress[]; timeouts: ForwardTimeouts }) {
    const { peers, timeouts } = options;
    this.self = self;
    this.#clients = peers.filter((p) => p.id !== self.id).map((p) => new PeerClient(p, self));
    this.#timeouts = timeouts;
  }

  #started = false;

  start(): void {
    this.#started = true;
    for (const c of this.#clients) c.start();
  }

  stop(): void {
    for (const c of this.#clients) c.stop();
  }

  /** Up peers of other racks with `flag`, fastest first. */
  ranked(flag: number): PeerClient[] {
    return this.#clients
      .filter((c) => c.up && c.peer.rack !== this.self.rack && (c.flags & flag) !== 0)
      .sort((a, b) => (a.rttMs ?? Infinity) - (b.rttMs ?? Infinity));
  }

  /** Whether some other rack can serve reads now. */
  canForwardReads(): boolean {
    return this.ranked(PeerFlags.servesReads).length > 0;
  }

  /** Whether some other rack can take writes with real replies now. */
  canForwardWrites(): boolean {
    return this.ranked(PeerFlags.applies).length > 0;
  }

  /**
   * Runs a read on the fastest healthy rack; it serves it from its own Redis
   * (a forwarded read is never forwarded again). Resolves with Redis's raw
   * reply; rejects with {@linkcode PeerUnavailable} when no rack can.
   */
  async forwardRead(
    db: number,
    protocol: Protocol,
    request: Uint8Array,
    need: Need,
  ): Promise<Uint8Array> {
    const { bytes } = await this.#forward(
      PeerFlags.servesReads,
      FrameType.Read,
      readPayload(db, protocol, request, need),
      this.#timeouts.readMs,
    );
    return bytes;
  }

  /** Submits a write through the fastest rack that applies; resolves with its reply and placement. */
  async forwardWrite(
    db: number,
    protocol: Protocol,
    transaction: boolean,
    commands: Uint8Array[][],
  ): Promise<{ reply: Uint8Array; placement: Placement | undefined }> {
    const w = new PayloadWriter().u16(db).u8(protocol).u8(transaction ? 1 : 0).u32(commands.length);
    for (const argv of commands) {
      w.u32(argv.length);
      for (const arg of argv) w.bytes(arg);
    }
    const { bytes, placement } = await this.#forward(
      PeerFlags.applies,
      FrameType.Write,
      w.finish(),
      this.#timeouts.writeMs,
    );
    return { reply: bytes, placement };
  }

  async #forward(
    flag: number,
    type: number,
    payload: Uint8Array,
    timeoutMs: number,
  ): Promise<{ bytes: Uint8Array; placement: Placement | undefined }> {
    const candidates = this.ranked(flag);
    if (candidates.length === 0) throw new PeerUnavailable("no other rack can serve it now");
    // Only the first candidate: a request that reached a peer may have run there.
    const frame = await candidates[0]!.request(type, payload, timeoutMs);
    const r = new PayloadReader(frame.payload);
    const status = r.u8();
    const bytes = r.bytes();
    if (status !== 0) {
      const text = new TextDecoder().decode(bytes).replaceAll(/[\r\n]/g, " ");
      return { bytes: new TextEncoder().encode(`-ERR ${text}\r\n`), placement: undefined };
    }
    // A write's answer says where the log put it (partition u32, offset f64), when it knows.
    const placement = r.u8() === 1 ? { partition: r.u32(), offset: r.f64() } : undefined;
    return { bytes, placement };
  }

  /** The other racks of the world, as this node's peers name them (up or not). */
  otherRacks(): string[] {
    return [...new Set(this.#clients.map((c) => c.peer.rack))].filter((r) => r !== this.self.rack);
  }

  /**
   * Whether `rack`'s Redis has applied `need`: a node of that rack reads its
   * Redis's applied position (waiting for it a moment, as for a read that
   * needs the asker's writes) and answers. False when no node of it is up or
   * it has not got there.
   */
  async appliedOn(rack: string, need: Need, timeoutMs: number): Promise<boolean> {
    const candidate = this.ranked(PeerFlags.servesReads).find((c) => c.peer.rack === rack);
    if (candidate === undefined) return false;
    try {
      const frame = await candidate.request(
        FrameType.Read,
        readPayload(0, 2, POSITION_PROBE, need),
        timeoutMs,
      );
      return new PayloadReader(frame.payload).u8() === 0;
    } catch {
      return false;
    }
  }

  /**
   * For each other rack, the node that runs its applier (the fastest, should
   * two say so during a change of leader), as their probes last said.
   */
  rackLeaders(): { id: string; rack: string }[] {
    const leaders = new Map<string, { id: string; rack: string }>();
    for (const client of this.ranked(PeerFlags.leads)) {
      if (!leaders.has(client.peer.rack)) {
        leaders.set(client.peer.rack, { id: client.peer.id, rack: client.peer.rack });
      }
    }
    return [...leaders.values()];
  }

  /**
   * Sends node `to` a request of `type` (answered with a Reply frame);
   * resolves with the answer's payload, rejects with its error.
   */
  async ask(to: string, type: number, payload: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    const client = this.#clients.find((c) => c.peer.id === to);
    if (client === undefined) throw new PeerUnavailable(`no link to ${to}`);
    const frame = await client.request(type, payload, timeoutMs);
    const r = new PayloadReader(frame.payload);
    const status = r.u8();
    const bytes = r.bytes();
    if (status !== 0) throw new Error(`${to}: ${new TextDecoder().decode(bytes)}`);
    return bytes;
  }

  /** Hands a reply to node `origin` of this rack; false if no link to it is up. */
  handBack(origin: string, opId: string, reply: Uint8Array): boolean {
    const client = this.#clients.find((c) => c.peer.id === origin);
    if (client === undefined) return false;
    return client.send(FrameType.HandBack, new PayloadWriter().text(opId).bytes(reply).finish());
  }

  /** Sends a batch of Raft messages to node `to`; false if no link to it is up (Raft retries by itself). */
  sendRaft(to: string, batch: Uint8Array): boolean {
    const client = this.#clients.find((c) => c.peer.id === to);
    return client?.send(FrameType.Raft, batch) ?? false;
  }

  /** Asks node `to` (a group's leader) to propose `data`; rejects with its reason if it does not. */
  async propose(to: string, group: string, data: Uint8Array, timeoutMs: number): Promise<void> {
    const client = this.#clients.find((c) => c.peer.id === to);
    if (client === undefined) throw new PeerUnavailable(`no link to ${to}`);
    const frame = await client.request(
      FrameType.Propose,
      new PayloadWriter().text(group).bytes(data).finish(),
      timeoutMs,
    );
    const r = new PayloadReader(frame.payload);
    const status = r.u8();
    const text = new TextDecoder().decode(r.bytes());
    if (status !== 0) throw new Error(`${to} did not take the proposal: ${text}`);
  }

  /** Adds a peer learned at runtime (world membership); no-op if known. */
  add(peer: PeerAddress): void {
    if (peer.id === this.self.id || this.#clients.some((c) => c.peer.id === peer.id)) return;
    const client = new PeerClient(peer, this.self);
    this.#clients.push(client);
    if (this.#started) client.start();
  }

  /**
   * Takes the configured peers again (a reload): a known peer at a new address
   * is dialled there from now on, an unknown one is added. A peer no longer
   * listed stays: world membership removes nodes, not the file. Returns the
   * ids whose address changed or that were added.
   */
  readdress(peers: PeerAddress[]): string[] {
    const changed: string[] = [];
    for (const peer of peers) {
      if (peer.id === this.self.id) continue;
      const known = this.#clients.find((c) => c.peer.id === peer.id)?.peer;
      const same = known !== undefined && known.rack === peer.rack &&
        describe(known.address) === describe(peer.address);
      if (same) continue;
      if (known !== undefined) this.remove(peer.id);
      this.add(peer);
      changed.push(peer.id);
    }
    return changed;
  }

  /**
   * A link of its own to peer `id`, started (authenticated, TLS as
   * configured), for a bulk transfer that must not hold up probes, Raft and
   * forwarded requests on the shared link; the caller stops it. Undefined
   * when the peer is unknown.
   */
  dedicated(id: string, purpose: string): PeerClient | undefined {
    const known = this.#clients.find((c) => c.peer.id === id);
    if (known === undefined) return undefined;
    const client = new PeerClient(known.peer, this.self, { purpose });
    client.start();
    return client;
  }

  /** Drops a peer that left the world. */
  remove(id: string): void {
    const at = this.#clients.findIndex((c) => c.peer.id === id);
    if (at < 0) return;
    this.#clients[at]!.stop();
    this.#clients.splice(at, 1);
  }

  /** The peer's state flags from its last probe answer (0 when unknown or down). */
  flagsOf(id: string): number {
    const client = this.#clients.find((c) => c.peer.id === id);
    return client?.up ? client.flags : 0;
  }

  /** Every peer, for `PYLON INFO`, fastest first. */
  status(): PeerStatus[] {
    return this.#clients
      .map((c) => ({
        id: c.peer.id,
        rack: c.peer.rack,
        address: describe(c.peer.address),
        up: c.up,
        rttMs: c.rttMs,
        servesReads: (c.flags & PeerFlags.servesReads) !== 0,
        applies: (c.flags & PeerFlags.applies) !== 0,
        lastError: c.lastError,
      }))
      .sort((
        a,
        b,
      ) => (a.up === b.up ? (a.rttMs ?? Infinity) - (b.rttMs ?? Infinity) : a.up ? -1 : 1));
  }
}

export { PeerUnavailable };
