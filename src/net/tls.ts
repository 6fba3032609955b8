/**
 * TLS material a client presents and trusts, as PEM text read from files at
 * start (and again on SIGHUP). A leaf: it imports nothing of the project.
 */

/** TLS material, PEM text (read from files at start). */
export interface TlsMaterial {
  /** CA certificates to trust (undefined: the system's). */
  ca?: string;
  /** A client certificate and its key, for servers that verify clients. */
  cert?: string;
  key?: string;
}
