"""redis-py's pubsub(), unmodified, against a Pylon node.

Usage: redis_py_pubsub.py PORT COUNT
Subscribes to channel "news" and pattern "ne*", prints "ready", then prints
one JSON line with the first COUNT messages it received, in order.
"""

import json
import sys
import time

import redis

port, count = int(sys.argv[1]), int(sys.argv[2])
client = redis.Redis(port=port)
pubsub = client.pubsub()
pubsub.subscribe("news")
pubsub.psubscribe("ne*")
confirmed = 0
deadline = time.monotonic() + 30
while confirmed < 2 and time.monotonic() < deadline:
    message = pubsub.get_message(timeout=1.0)
    if message is not None and message["type"] in ("subscribe", "psubscribe"):
        confirmed += 1
print("ready", flush=True)
received = []
deadline = time.monotonic() + 60
while len(received) < count and time.monotonic() < deadline:
    message = pubsub.get_message(timeout=1.0)
    if message is None:
        continue
    if message["type"] in ("message", "pmessage"):
        received.append([message["type"], message["channel"].decode(), message["data"].decode()])
print(json.dumps(received), flush=True)
pubsub.close()
