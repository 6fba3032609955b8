"""redis-py, unmodified, against Pylon nodes: lock() and transaction().

Usage: redis_py_check.py lock|transaction PORT[,PORT...] THREADS ROUNDS
Threads are spread over the ports (one rack each) and contend for one key;
prints one JSON line with what they did.
"""

import json
import sys
import threading

import redis


def lock_worker(port, rounds, stats):
    client = redis.Redis(port=port, socket_timeout=60)
    for _ in range(rounds):
        lock = client.lock("lock:ctr", timeout=30, sleep=0.02, blocking_timeout=120)
        if not lock.acquire():
            raise RuntimeError("lock not acquired within 120 s")
        # Read-modify-write under the lock: exact only if the lock excludes every other rack.
        value = int(client.get("ctr") or 0)
        client.set("ctr", value + 1)
        if not lock.extend(10):
            raise RuntimeError("extend failed")
        lock.release()
        stats["released"] += 1
    client.close()


def transaction_worker(port, rounds, stats):
    client = redis.Redis(port=port, socket_timeout=60)
    attempts = {"n": 0}

    def increment(pipe):
        attempts["n"] += 1
        value = int(pipe.get("tctr") or 0)
        pipe.multi()
        pipe.set("tctr", value + 1)

    for _ in range(rounds):
        client.transaction(increment, "tctr")
    stats["aborted"] += attempts["n"] - rounds
    client.close()


def main():
    mode, ports, threads, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    ports = [int(p) for p in ports.split(",")]
    stats = {"released": 0, "aborted": 0}
    lock = threading.Lock()
    errors = []
    worker = lock_worker if mode == "lock" else transaction_worker

    def run(port):
        local = {"released": 0, "aborted": 0}
        try:
            worker(port, rounds, local)
        except Exception as error:  # reported, not swallowed
            errors.append(repr(error))
        with lock:
            for key in stats:
                stats[key] += local[key]

    pool = [threading.Thread(target=run, args=(ports[i % len(ports)],)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(300)
    client = redis.Redis(port=ports[0])
    key = "ctr" if mode == "lock" else "tctr"
    print(json.dumps({
        "value": int(client.get(key) or 0),
        "lock_left": client.exists("lock:ctr"),
        "errors": errors,
        **stats,
    }))


main()
