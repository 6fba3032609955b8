"""RQ's own client side in the framework tests: enqueue jobs, then report what became of them.

Usage:
  rq_check.py enqueue URL QUEUE N     enqueues rq_jobs.add(i, 1000, "sum:<i>") for i < N;
                                      prints one JSON line: [{"id", "key", "sum"}, ...]
  rq_check.py enqueue-counting URL QUEUE N
                                      enqueues rq_jobs.count(i) for i < N, each retried up to 3
                                      times if its worker dies (10 s job timeout); prints
                                      [{"id", "sum"}, ...]
  rq_check.py report URL ID [ID...]   prints one JSON line: {id: {"status", "result"}}, read
                                      with RQ's Job.fetch, get_status() and return_value()
"""

import json
import sys

import redis
from rq import Queue, Retry
from rq.job import Job

import rq_jobs


def enqueue(connection, queue_name, count):
    queue = Queue(queue_name, connection=connection)
    jobs = []
    for i in range(count):
        key = f"sum:{i}"
        job = queue.enqueue(rq_jobs.add, i, 1000, key)
        jobs.append({"id": job.id, "key": key, "sum": i + 1000})
    return jobs


def enqueue_counting(connection, queue_name, count):
    queue = Queue(queue_name, connection=connection)
    jobs = []
    for i in range(count):
        job = queue.enqueue(rq_jobs.count, i, retry=Retry(max=3), job_timeout=10)
        jobs.append({"id": job.id, "sum": i + 1000})
    return jobs


def report(connection, ids):
    seen = {}
    for job_id in ids:
        job = Job.fetch(job_id, connection=connection)
        seen[job_id] = {"status": job.get_status().value, "result": job.return_value()}
    return seen


def main():
    mode, url = sys.argv[1], sys.argv[2]
    connection = redis.Redis.from_url(url, socket_timeout=30)
    if mode == "enqueue":
        print(json.dumps(enqueue(connection, sys.argv[3], int(sys.argv[4]))))
    elif mode == "enqueue-counting":
        print(json.dumps(enqueue_counting(connection, sys.argv[3], int(sys.argv[4]))))
    elif mode == "report":
        print(json.dumps(report(connection, sys.argv[3:])))
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    connection.close()


if __name__ == "__main__":
    main()
