/**
 * What Pylon's own work (the applier, the rack marker check, scripts) needs
 * of a Redis connection: send a group of encoded commands, get back one raw
 * reply frame per command, in order. {@linkcode PipelineConnection} is the
 * real one; simulations run a scripted fake behind the same interface.
 */

/** A connection that answers groups of commands with raw frames. */
export interface CommandRunner {
  /** Resolves with one raw frame per command; rejects if the connection ends first. */
  run(commands: Uint8Array[]): Promise<Uint8Array[]>;
  /** Whether the connection has ended. */
  readonly closed: boolean;
  /** Ends the connection; pending groups fail. */
  close(): void;
}
