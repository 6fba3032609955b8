# Pylon node image. Redis, Sentinel and Kafka run in their own containers
# (see docker-compose.yml); this image holds only the node.
FROM denoland/deno:2.9.6

WORKDIR /app
COPY deno.json deno.lock ./
COPY main.ts mod.ts ./
COPY src/ src/
RUN deno cache main.ts && mkdir /data && chown deno /data

USER deno
EXPOSE 6380
VOLUME ["/data"]
ENTRYPOINT ["deno", "run", "--allow-net", "--allow-read", "--allow-write", "--allow-env", "--allow-sys", "--allow-run", "--v8-flags=--expose-gc", "main.ts"]
CMD ["--listen", "0.0.0.0:6380", "--data-dir", "/data"]
