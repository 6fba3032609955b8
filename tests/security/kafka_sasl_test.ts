/**
 * Kafka over TLS with SASL, against a real broker that has only a SASL_SSL
 * listener: a node logs and applies through it with each mechanism (PLAIN,
 * SCRAM-SHA-256, SCRAM-SHA-512), for its producer (kafkajs) and its own
 * reader alike; a wrong password is refused at start with a clear error, and
 * the password shows nowhere.
 */

import assert from "node:assert/strict";
import { makeCerts, startKafka, startPylon, startRedis, uniqueTopic } from "../harness/mod.ts";

const USERS = [{ name: "pylon", password: "kafka-secret-pw" }];

Deno.test("a node logs and applies over SASL_SSL with PLAIN and SCRAM; a wrong password is refused", async () => {
  await using certs = await makeCerts();
  await using kafka = await startKafka({
    secure: {
      certFile: certs.server.certFile,
      keyFile: certs.server.keyFile,
      caFile: certs.caFile,
      users: USERS,
    },
  });
  const base = (topic: string) => [
    "--log",
    `kafka://${kafka.brokers.join(",")}/${topic}`,
    "--kafka-tls",
    "--kafka-tls-ca",
    certs.caFile,
    "--kafka-user",
    "pylon",
  ];
  for (const mechanism of ["plain", "scram-sha-256", "scram-sha-512"]) {
    await using redis = await startRedis();
    await using pylon = await startPylon({
      redis: { url: redis.url },
      env: { PYLON_KAFKA_PASSWORD: USERS[0]!.password },
      args: [...base(uniqueTopic(`sasl-${mechanism}`)), "--kafka-sasl", mechanism],
    });
    assert.equal(await pylon.call("INCR", "over-sasl"), "1", mechanism);
    assert.equal(await pylon.call("INCR", "over-sasl"), "2", mechanism);
    assert.equal(await redis.call("GET", "over-sasl"), "2");
    const log = await Deno.readTextFile(pylon.service.logPath);
    assert.doesNotMatch(log, /kafka-secret-pw/);
  }
  await using redis = await startRedis();
  await using refused = await startPylon({
    redis: { url: redis.url },
    env: { PYLON_KAFKA_PASSWORD: "wrong-password" },
    args: [...base(uniqueTopic("sasl-wrong")), "--kafka-sasl", "scram-sha-256"],
    waitReady: false,
  });
  const { code, log } = await refused.exit(60_000);
  assert.notEqual(code, 0);
  assert.match(log, /could not start: .*(SASL|[Aa]uthentication)/);
  assert.doesNotMatch(log, /wrong-password/);
});
