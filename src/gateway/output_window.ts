/**
 * How much one connection may have in flight: requests read but not answered,
 * and reply bytes the client has not read. Pure arithmetic the connection
 * consults at every turn; the socket stays in the connection.
 *
 * The window is as many requests as fit a quarter of the output limit at the
 * size replies have had lately (a client asking for 1 MiB values pipelines 16
 * at a time under a 64 MiB limit; small replies pipeline up to
 * `pendingRequestsMax`), so a client that reads is never closed for replies it
 * had no time to read. Reading pauses at the window or past a quarter of the
 * output limit, and resumes below half of both.
 */

/** Requests in flight before the connection knows how large its replies are. */
export const INITIAL_WINDOW = 16;

/** The bounds one connection keeps. */
export interface WindowLimits {
  /** Requests in flight before reading pauses. */
  pendingRequestsMax: number;
  /** Reply bytes held for a client that does not read them (Redis's `client-output-buffer-limit`). */
  outputBytesMax: number;
}

/** One connection's pipelining window and output bound. */
export class OutputWindow {
  limits: WindowLimits;
  /** The largest reply handed to the socket since it last drained. */
  #largestUnsent = 0;
  /** Replies written so far, and their recent average size. */
  #repliesSeen = 0;
  #replyBytesAverage = 0;

  constructor(limits: WindowLimits) {
    this.limits = limits;
  }

  /** A reply of `bytes` went to the socket. */
  written(bytes: number): void {
    if (bytes > this.#largestUnsent) this.#largestUnsent = bytes;
    this.#repliesSeen++;
    this.#replyBytesAverage += (bytes - this.#replyBytesAverage) / 16;
  }

  /** The socket wrote out everything handed to it. */
  drained(): void {
    this.#largestUnsent = 0;
  }

  /** Requests this connection may have in flight now. */
  window(): number {
    if (this.#repliesSeen < INITIAL_WINDOW) return INITIAL_WINDOW;
    const fit = Math.floor(
      this.limits.outputBytesMax / 4 / Math.max(1, this.#replyBytesAverage),
    );
    return Math.max(1, Math.min(this.limits.pendingRequestsMax, fit));
  }

  /**
   * Whether `outputBytes` unread is past the limit. One reply larger than the
   * limit (a 100 MB value) is still delivered: the limit is on what piles up
   * around it.
   */
  overLimit(outputBytes: number): boolean {
    return outputBytes - this.#largestUnsent > this.limits.outputBytesMax;
  }

  /** Whether reading should pause with `pending` requests in flight and `outputBytes` unread. */
  shouldPause(pending: number, outputBytes: number): boolean {
    return pending >= this.window() || outputBytes > this.limits.outputBytesMax / 4;
  }

  /** Whether a paused connection may read again: its backlog is below half its bounds. */
  mayResume(pending: number, outputBytes: number): boolean {
    return pending < this.window() / 2 && outputBytes <= this.limits.outputBytesMax / 8;
  }
}
