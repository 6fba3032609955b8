/**
 * TLS on every wire Pylon owns, against real servers: a rack Redis that only
 * speaks TLS and wants a password; clients on Pylon's TLS port with and
 * without the certificates it asks for; peer links over mutual TLS that still
 * prove the world secret. Every refusal leaves the node serving others, and
 * no password shows in what the node says or logs.
 */

import assert from "node:assert/strict";
import { connect as tlsConnect } from "node:tls";
import {
  freePort,
  makeCerts,
  RawClient,
  startPylon,
  startRack,
  startRedis,
  startWorld,
  type TestCerts,
  useKafka,
  waitFor,
} from "../harness/mod.ts";

/** A TLS connection to `port`: whether the handshake and a PING succeed. */
function tlsPing(
  port: number,
  certs: TestCerts,
  client: { cert: string; key: string } | undefined,
): Promise<string> {
  return new Promise((resolve) => {
    const socket = tlsConnect({
      host: "127.0.0.1",
      port,
      ca: certs.ca,
      ...(client === undefined ? {} : { cert: client.cert, key: client.key }),
    });
    let answer = "";
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(answer === "" ? "no answer" : answer);
    }, 5_000);
    socket.on("secureConnect", () => socket.write("*1\r\n$4\r\nPING\r\n"));
    socket.on("data", (chunk: Uint8Array) => {
      answer += new TextDecoder().decode(chunk);
      if (answer.endsWith("\r\n")) {
        clearTimeout(timer);
        socket.end();
        resolve(answer.trim());
      }
    });
    socket.on("error", (error: Error) => {
      clearTimeout(timer);
      resolve(`refused: ${error.message}`);
    });
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(answer === "" ? "refused: closed" : answer.trim());
    });
  });
}

Deno.test("a rack Redis that speaks only TLS and wants a password is used, and the password never shows", async () => {
  await using certs = await makeCerts();
  await using redis = await startRedis({
    tls: { certFile: certs.server.certFile, keyFile: certs.server.keyFile, caFile: certs.caFile },
    config: { "user pylon": "on >rack-secret-pw ~* &* +@all", "user default": "off" },
  });
  await using pylon = await startPylon({
    redis: { url: `rediss://pylon@127.0.0.1:${redis.port}` },
    env: { PYLON_REDIS_PASSWORD: "rack-secret-pw" },
    args: ["--redis-tls-ca", certs.caFile],
  });
  assert.equal(await pylon.call("INCR", "over-tls"), "1");
  assert.equal(await pylon.call("GET", "over-tls"), "1");
  const info = await pylon.call("PYLON", "INFO");
  assert.doesNotMatch(info, /rack-secret-pw/);
  const log = await Deno.readTextFile(pylon.service.logPath);
  assert.doesNotMatch(log, /rack-secret-pw/, "not in the node's log");
  assert.match(log, /rediss:\/\/pylon:\*\*\*@127\.0\.0\.1/);
});

Deno.test("clients on the TLS port: a signed certificate is served; plain text, none, expired or a stranger's are refused", async () => {
  await using certs = await makeCerts();
  await using redis = await startRedis();
  const tlsPort = freePort();
  await using pylon = await startPylon({
    redis: { url: redis.url },
    args: [
      "--tls-listen",
      `127.0.0.1:${tlsPort}`,
      "--tls-cert",
      certs.server.certFile,
      "--tls-key",
      certs.server.keyFile,
      "--tls-ca",
      certs.caFile,
    ],
  });
  assert.equal(await tlsPing(tlsPort, certs, certs.client), "+PONG");
  for (
    const [what, client] of [
      ["no certificate", undefined],
      ["an expired certificate", certs.expired],
      ["another CA's certificate", certs.stranger],
    ] as const
  ) {
    assert.match(await tlsPing(tlsPort, certs, client), /^refused/, what);
  }
  // Plain RESP on the TLS port gets no Redis reply, and the connection is closed.
  await using plain = await RawClient.connect(tlsPort);
  await plain.send("*1\r\n$4\r\nPING\r\n");
  const replies = await plain.readUntilClosed(5_000).catch((e) => [String(e)]);
  assert.ok(!JSON.stringify(replies).includes("PONG"), JSON.stringify(replies));
  // The plain port and good TLS clients were served throughout.
  assert.equal(await pylon.call("PING"), "PONG");
  assert.equal(await tlsPing(tlsPort, certs, certs.client), "+PONG");
  const info = await pylon.call("PYLON", "INFO");
  assert.ok(Number(/rejected_connections:(\d+)/.exec(info)![1]) >= 3);
});

Deno.test("SIGHUP reloads the TLS certificate without dropping connected clients", async () => {
  await using certs = await makeCerts();
  await using redis = await startRedis();
  const tlsPort = freePort();
  const certFile = `${certs.dir}/live.crt`;
  const keyFile = `${certs.dir}/live.key`;
  await Deno.writeTextFile(certFile, certs.server.cert);
  await Deno.writeTextFile(keyFile, certs.server.key);
  await using pylon = await startPylon({
    redis: { url: redis.url },
    args: ["--tls-listen", `127.0.0.1:${tlsPort}`, "--tls-cert", certFile, "--tls-key", keyFile],
  });
  const served = (): Promise<string> =>
    new Promise((resolve) => {
      const socket = tlsConnect({ host: "127.0.0.1", port: tlsPort, ca: certs.ca }, () => {
        const subject = socket.getPeerCertificate().subject?.CN ?? "";
        socket.end();
        resolve(String(subject));
      });
      socket.on("error", (e: Error) => resolve(`error: ${e.message}`));
    });
  assert.equal(await served(), "server");
  await using connected = await RawClient.connect(pylon.port);
  await Deno.writeTextFile(certFile, certs.renewed.cert);
  await Deno.writeTextFile(keyFile, certs.renewed.key);
  pylon.service.signal("SIGHUP");
  await waitFor(
    "the renewed certificate",
    async () => (await served()) === "renewed" ? true : undefined,
  );
  await connected.command("PING");
  assert.deepEqual(await connected.read(), { type: "simple", value: "PONG" });
  assert.ok(pylon.service.running, "SIGHUP did not end the node");
});

Deno.test("peer links over mutual TLS: a stranger's certificate or a wrong secret is refused", async () => {
  await using certs = await makeCerts();
  await using redisA = await startRedis();
  await using redisB = await startRedis();
  const [peerA, peerB] = [freePort(), freePort()];
  const secret = "world-secret-0123456789";
  const tlsArgs = (pair: { certFile: string; keyFile: string }) => [
    "--peer-tls-cert",
    pair.certFile,
    "--peer-tls-key",
    pair.keyFile,
    "--peer-tls-ca",
    certs.caFile,
  ];
  const node = (id: string, port: number, other: string, otherPort: number) => [
    "--node-id",
    id,
    "--rack",
    id,
    "--peer-listen",
    `127.0.0.1:${port}`,
    "--peer",
    `${other}@${other}@127.0.0.1:${otherPort}`,
  ];
  await using a = await startPylon({
    redis: { url: redisA.url },
    env: { PYLON_WORLD_SECRET: secret },
    args: [...node("a", peerA, "b", peerB), ...tlsArgs(certs.client)],
  });
  await using b = await startPylon({
    redis: { url: redisB.url },
    env: { PYLON_WORLD_SECRET: secret },
    args: [...node("b", peerB, "a", peerA), ...tlsArgs(certs.server)],
  });
  const linkUp = async (pylon: typeof a) =>
    /peer0:id=\w+,rack=\w+,address=[^,]+,state=up/.test(await pylon.call("PYLON", "INFO"));
  await waitFor(
    "the mutual TLS link",
    async () => (await linkUp(a)) && (await linkUp(b)) ? true : undefined,
  );

  const refusedBefore = Number(/peer_links_refused:(\d+)/.exec(await a.call("PYLON", "INFO"))![1]);
  // A stranger's certificate with the right secret, and the right certificate with a wrong secret.
  for (
    const [what, pair, env] of [
      ["a stranger's certificate", certs.stranger, { PYLON_WORLD_SECRET: secret }],
      ["a wrong secret", certs.client, { PYLON_WORLD_SECRET: "not-the-world-secret-at-all" }],
    ] as const
  ) {
    await using redisC = await startRedis();
    const port = freePort();
    await using c = await startPylon({
      redis: { url: redisC.url },
      env,
      args: [...node("c", port, "a", peerA), ...tlsArgs(pair)],
    });
    await waitFor(`node a to refuse ${what}`, async () => {
      const info = await a.call("PYLON", "INFO");
      return Number(/peer_links_refused:(\d+)/.exec(info)![1]) > refusedBefore ? true : undefined;
    });
    assert.ok(!(await linkUp(c)), `${what}: no link`);
  }
  assert.ok(await linkUp(a), "a and b stay linked throughout");
});

Deno.test("a Sentinel rack where Redis and the Sentinels want passwords is followed across a failover", async () => {
  await using rack = await startRack({
    redis: { password: "rack-master-pw" },
    sentinelPassword: "rack-sentinel-pw",
  });
  await using pylon = await startPylon({
    redis: { sentinels: rack.sentinelList, master: rack.masterName },
    env: { PYLON_REDIS_PASSWORD: "rack-master-pw", PYLON_SENTINEL_PASSWORD: "rack-sentinel-pw" },
  });
  assert.equal(await pylon.call("INCR", "guarded"), "1");
  await rack.failover();
  const last = await waitFor("a write through the new master", async () => {
    const reply = await pylon.call("INCR", "guarded").catch(() => "");
    return /^\d+$/.test(reply) ? reply : undefined;
  }, { timeoutMs: 30_000 });
  assert.ok(Number(last) >= 2);
  assert.equal(await (await rack.master()).call("GET", "guarded"), last);
  const log = await Deno.readTextFile(pylon.service.logPath);
  assert.doesNotMatch(log, /rack-master-pw|rack-sentinel-pw/);
});

Deno.test("three racks on mutual-TLS peer links share one world: a write on one is read on the others", async () => {
  await using certs = await makeCerts();
  await using kafka = await useKafka();
  await using world = await startWorld({
    brokers: kafka.brokers,
    racks: 3,
    args: [
      "--peer-tls-cert",
      certs.client.certFile,
      "--peer-tls-key",
      certs.client.keyFile,
      "--peer-tls-ca",
      certs.caFile,
    ],
  });
  const [first, , last] = world.racks;
  await waitFor("every rack's links to be up over TLS", async () => {
    for (const rack of world.racks) {
      const info = await rack.pylon.call("PYLON", "INFO");
      if ((info.match(/state=up/g) ?? []).length < 2) return undefined;
    }
    return true;
  });
  assert.equal(await first!.pylon.call("SET", "across", "tls"), "OK");
  await waitFor(
    "the write to reach the last rack",
    async () => (await last!.pylon.call("GET", "across")) === "tls" ? true : undefined,
  );
});
