"""Celery's own client side in the framework tests: send tasks, then wait for their results.

The broker and backend URL come from PYLON_CELERY_URL (see celery_app.py).

Usage:
  celery_check.py send N                  sends add(i, 1000) for i < N; prints one JSON line:
                                          [{"id", "sum"}, ...]
  celery_check.py send-work N             sends work(i) for i < N; prints [{"id", "sum"}, ...]
  celery_check.py results SECONDS ID...   waits at most SECONDS for each result, through
                                          Celery's result backend; prints one JSON line:
                                          {id: result}
"""

import json
import sys
import time

from celery.result import AsyncResult

from celery_app import add, app, work


def send(count):
    return [{"id": add.delay(i, 1000).id, "sum": i + 1000} for i in range(count)]


def send_work(count):
    return [{"id": work.delay(i).id, "sum": i + 1000} for i in range(count)]


def results(seconds, ids):
    deadline = time.monotonic() + seconds
    got = {}
    for task_id in ids:
        left = max(deadline - time.monotonic(), 0.1)
        got[task_id] = AsyncResult(task_id, app=app).get(timeout=left)
    return got


def main():
    mode = sys.argv[1]
    if mode == "send":
        print(json.dumps(send(int(sys.argv[2]))))
    elif mode == "send-work":
        print(json.dumps(send_work(int(sys.argv[2]))))
    elif mode == "results":
        print(json.dumps(results(float(sys.argv[2]), sys.argv[3:])))
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
