# Pylon node image. Redis, Sentinel and Kafka run in their own containers
# (see docker-compose.yml); this image holds only the node.
FROM denoland/deno:2.9.6

WORKDIR /app
COPY deno.json deno.lock ./
COPY main.ts mod.ts ./
COPY src/ src/
RUN deno cache main.ts && mkdir /data && chown deno:deno /data

# Not root: the image's own unprivileged user.
USER deno
EXPOSE 6380 7380
VOLUME ["/data"]
# Ready: serves reads and its rack applies (the admin listener, on loopback inside the container).
HEALTHCHECK --interval=10s --timeout=5s --start-period=120s --retries=3 \
  CMD ["deno", "eval", "const r = await fetch('http://127.0.0.1:9121/readyz').catch(() => undefined); Deno.exit(r?.ok ? 0 : 1)"]
ENTRYPOINT ["deno", "run", "--allow-net", "--allow-read", "--allow-write", "--allow-env", "--allow-sys", "--allow-run", "--v8-flags=--expose-gc", "main.ts"]
CMD ["--listen", "0.0.0.0:6380", "--data-dir", "/data", "--admin-listen", "127.0.0.1:9121"]
