/**
 * SASL authentication of a fresh Kafka connection (SaslHandshake v1, then
 * SaslAuthenticate v0 frames): PLAIN, and SCRAM-SHA-256/512 (RFC 5802: the
 * password never crosses the wire, and the broker proves it knows it too).
 * The same mechanisms kafkajs offers Pylon's producer, for Pylon's reader.
 */

import { Buffer } from "node:buffer";
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto";
import type { KafkaSecurity } from "../../config/types.ts";
import type { KafkaConnection } from "./connection.ts";
import { KafkaWriter } from "./wire.ts";

const API_SASL_HANDSHAKE = 17;
const API_SASL_AUTHENTICATE = 36;

/** The broker refused the credentials or the mechanism. */
export class SaslError extends Error {
  override name = "SaslError";
}

type Sasl = NonNullable<KafkaSecurity["sasl"]>;

/** Authenticates `connection` with `sasl`; throws {@linkcode SaslError} when refused. */
export async function authenticate(
  connection: KafkaConnection,
  sasl: Sasl,
  timeoutMs: number,
): Promise<void> {
  const mechanism = sasl.mechanism.toUpperCase();
  const handshake = await connection.request(
    API_SASL_HANDSHAKE,
    1,
    new KafkaWriter().string(mechanism).finish(),
    timeoutMs,
  );
  const code = handshake.int16();
  const offered = handshake.array((r) => r.string());
  if (code !== 0) {
    throw new SaslError(
      `Kafka does not accept SASL ${mechanism} (it offers ${offered.join(", ")})`,
    );
  }
  const step = async (bytes: Uint8Array): Promise<Uint8Array> => {
    const r = await connection.request(
      API_SASL_AUTHENTICATE,
      0,
      new KafkaWriter().int32(bytes.length).raw(bytes).finish(),
      timeoutMs,
    );
    const error = r.int16();
    const message = r.string();
    const reply = r.bytes() ?? new Uint8Array(0);
    if (error !== 0) {
      throw new SaslError(
        `Kafka refused SASL ${mechanism} for '${sasl.username}': ${message ?? error}`,
      );
    }
    return reply;
  };
  if (sasl.mechanism === "plain") {
    await step(new TextEncoder().encode(`\u0000${sasl.username}\u0000${sasl.password}`));
    return;
  }
  await scram(sasl, sasl.mechanism === "scram-sha-256" ? "sha256" : "sha512", step);
}

/** The SCRAM exchange: client-first, server-first, client-final with proof, server-final. */
async function scram(
  sasl: Sasl,
  hash: "sha256" | "sha512",
  step: (bytes: Uint8Array) => Promise<Uint8Array>,
): Promise<void> {
  const encode = (text: string) => new TextEncoder().encode(text);
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  const name = sasl.username.replaceAll("=", "=3D").replaceAll(",", "=2C");
  const nonce = randomBytes(24).toString("base64");
  const clientFirstBare = `n=${name},r=${nonce}`;
  const serverFirst = decode(await step(encode(`n,,${clientFirstBare}`)));
  const fields = new Map(serverFirst.split(",").map((f) => [f[0], f.slice(2)]));
  const serverNonce = fields.get("r") ?? "";
  const salt = Buffer.from(fields.get("s") ?? "", "base64");
  const iterations = Number(fields.get("i"));
  if (!serverNonce.startsWith(nonce) || !(iterations >= 1)) {
    throw new SaslError("Kafka's SCRAM challenge is malformed");
  }
  const keyLength = hash === "sha256" ? 32 : 64;
  const salted = pbkdf2Sync(sasl.password, salt, iterations, keyLength, hash);
  const clientKey = createHmac(hash, salted).update("Client Key").digest();
  const storedKey = createHash(hash).update(clientKey).digest();
  const clientFinalBare = `c=biws,r=${serverNonce}`;
  const authMessage = `${clientFirstBare},${serverFirst},${clientFinalBare}`;
  const signature = createHmac(hash, storedKey).update(authMessage).digest();
  const proof = Buffer.alloc(clientKey.length);
  for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i]! ^ signature[i]!;
  const serverFinal = decode(
    await step(encode(`${clientFinalBare},p=${proof.toString("base64")}`)),
  );
  const serverKey = createHmac(hash, salted).update("Server Key").digest();
  const expected = createHmac(hash, serverKey).update(authMessage).digest();
  const got = Buffer.from(serverFinal.replace(/^v=/, ""), "base64");
  if (got.length !== expected.length || !timingSafeEqual(got, expected)) {
    throw new SaslError("Kafka could not prove it knows the SCRAM password");
  }
}
