/**
 * Replies of one client connection, in request order. Every request takes a
 * slot when it arrives; slots fill in any order (a local reply at once, a read
 * when Redis answers) and leave only from the head, so pipelined requests are
 * answered strictly in order.
 */

/** One request's place in line. */
export interface Slot {
  reply: Uint8Array | undefined;
}

/** The ordered replies of one connection. */
export class ReplyQueue {
  #slots: Slot[] = [];
  #head = 0;
  #heldBytes = 0;

  /** Bytes of replies answered but not yet taken (held behind an earlier request). */
  get heldBytes(): number {
    return this.#heldBytes;
  }

  /** Answers `slot` (once; later answers are ignored). */
  fill(slot: Slot, reply: Uint8Array): void {
    if (slot.reply !== undefined) return;
    slot.reply = reply;
    this.#heldBytes += reply.length;
  }

  /** Requests taken and not yet handed out. */
  get pending(): number {
    return this.#slots.length - this.#head;
  }

  /** Takes the next place in line. */
  reserve(): Slot {
    const slot: Slot = { reply: undefined };
    this.#slots.push(slot);
    return slot;
  }

  /** Takes a place in line that is already answered. */
  push(reply: Uint8Array): void {
    this.#slots.push({ reply });
    this.#heldBytes += reply.length;
  }

  /** Removes and returns the answered replies at the head, in order. */
  takeReady(): Uint8Array[] {
    const ready: Uint8Array[] = [];
    const slots = this.#slots;
    while (this.#head < slots.length) {
      const reply = slots[this.#head]!.reply;
      if (reply === undefined) break;
      ready.push(reply);
      this.#heldBytes -= reply.length;
      this.#head++;
    }
    if (this.#head === slots.length) {
      this.#slots = [];
      this.#head = 0;
    } else if (this.#head > 256) {
      this.#slots = slots.slice(this.#head);
      this.#head = 0;
    }
    return ready;
  }
}
