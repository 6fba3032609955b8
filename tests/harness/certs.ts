/**
 * Certificates for TLS tests, made with the machine's openssl in a scratch
 * folder: a CA, certificates it signs for servers (127.0.0.1 and localhost)
 * and clients, an expired one, and a certificate of another CA, so tests can
 * show each refusal.
 */

import { join } from "node:path";
import { scratchDir } from "./service.ts";

/** A certificate and its key: file paths and PEM text. */
export interface CertPair {
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
}

/** Everything a TLS test needs. */
export interface TestCerts extends AsyncDisposable {
  dir: string;
  caFile: string;
  ca: string;
  /** For servers: SAN 127.0.0.1 and localhost. */
  server: CertPair;
  /** A second server certificate (a reload shows it). */
  renewed: CertPair;
  /** For clients and peers. */
  client: CertPair;
  /** Signed by the CA, but no longer valid. */
  expired: CertPair;
  /** Valid, but signed by another CA. */
  stranger: CertPair;
}

async function openssl(dir: string, args: string[]): Promise<void> {
  const { success, stderr } = await new Deno.Command("openssl", {
    args,
    cwd: dir,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!success) throw new Error(`openssl ${args.join(" ")}: ${new TextDecoder().decode(stderr)}`);
}

async function sign(
  dir: string,
  name: string,
  ca: { cert: string; key: string },
  days: number,
): Promise<CertPair> {
  const keyFile = join(dir, `${name}.key`);
  const certFile = join(dir, `${name}.crt`);
  const ext = join(dir, `${name}.ext`);
  await Deno.writeTextFile(ext, "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  await openssl(dir, [
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    keyFile,
    "-out",
    `${name}.csr`,
    "-subj",
    `/CN=${name}`,
  ]);
  await openssl(dir, [
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    ca.cert,
    "-CAkey",
    ca.key,
    "-CAcreateserial",
    "-out",
    certFile,
    "-days",
    String(days),
    "-extfile",
    ext,
  ]);
  return {
    certFile,
    keyFile,
    cert: await Deno.readTextFile(certFile),
    key: await Deno.readTextFile(keyFile),
  };
}

async function authority(dir: string, name: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  await openssl(dir, [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    key,
    "-out",
    cert,
    "-days",
    "2",
    "-subj",
    `/CN=${name}`,
  ]);
  return { cert, key };
}

/** Makes the certificates; use with `await using`. */
export async function makeCerts(): Promise<TestCerts> {
  const dir = await scratchDir("certs");
  const ca = await authority(dir, "test-ca");
  const other = await authority(dir, "other-ca");
  // One at a time: signing updates the CA's serial file.
  const server = await sign(dir, "server", ca, 2);
  const renewed = await sign(dir, "renewed", ca, 2);
  const client = await sign(dir, "client", ca, 2);
  const expired = await sign(dir, "expired", ca, -1);
  const stranger = await sign(dir, "stranger", other, 2);
  return {
    dir,
    caFile: ca.cert,
    ca: await Deno.readTextFile(ca.cert),
    server,
    renewed,
    client,
    expired,
    stranger,
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
