"""python-redis-lock's waiting acquire, as the framework tests contend for one lock.

Usage:
  lock_check.py contend URL NAME SECTIONS
      takes the lock "shared" SECTIONS times with a waiting acquire (python-redis-lock waits in
      BLPOP on its signal list, woken by the holder's release), and inside each critical
      section reads and writes a counter non-atomically: `holder` is set to NAME on entry and
      must still be NAME on exit (else another client was inside too: an overlap); the section
      is recorded in the list `sections` as NAME:n. A dropped connection is waited out and the
      section tried again (a lock held then expires: expire 5 s). Prints one JSON line:
      {"sections": SECTIONS, "overlaps": n, "waits": n, "reconnects": n}
"""

import json
import sys
import time

import redis
import redis_lock


def contend(url, name, sections):
    conn = redis.Redis.from_url(url, socket_timeout=30)
    overlaps = waits = reconnects = 0
    n = 0
    while n < sections:
        try:
            lock = redis_lock.Lock(conn, "shared", expire=5, auto_renewal=True)
            if not lock.acquire(blocking=False):
                waits += 1
                lock.acquire(blocking=True)
            conn.set("holder", name)
            value = int(conn.get("counter") or 0)
            conn.set("counter", value + 1)
            if conn.get("holder") != name.encode():
                overlaps += 1
            conn.rpush("sections", f"{name}:{n}")
            lock.release()
            n += 1
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, redis_lock.NotAcquired):
            reconnects += 1
            time.sleep(0.5)
            conn = redis.Redis.from_url(url, socket_timeout=30)
    return {"sections": sections, "overlaps": overlaps, "waits": waits, "reconnects": reconnects}


def main():
    mode = sys.argv[1]
    if mode == "contend":
        print(json.dumps(contend(sys.argv[2], sys.argv[3], int(sys.argv[4]))))
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
