"""The Celery application of the framework tests: a task that adds two numbers, and one
that also counts its runs.

Broker and result backend are both `PYLON_CELERY_URL` (a Redis URL: Pylon's, or a
plain Redis's to check the test itself). The worker imports this module by name
(`celery -A celery_app worker`), its folder being on PYTHONPATH.

`PYLON_CELERY_RELIABLE=1` makes delivery at-least-once across a killed worker, as
Celery documents it: tasks acknowledged after they ran (`acks_late`), one prefetched
at a time, and a message unacknowledged for `visibility_timeout` seconds delivered
again.
"""

import os

import redis
from celery import Celery

URL = os.environ["PYLON_CELERY_URL"]

app = Celery("pylon_check", broker=URL, backend=URL)
app.conf.update(
    broker_connection_retry_on_startup=False,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
)
if os.environ.get("PYLON_CELERY_RELIABLE") == "1":
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options={"visibility_timeout": 10},
        result_backend_transport_options={"retry_policy": {"timeout": 30.0}},
    )

_counter = None


@app.task
def work(i):
    """Counts this run of job i in `runs:<i>` (through the worker's rack) and returns i + 1000."""
    global _counter
    if _counter is None:
        _counter = redis.Redis.from_url(URL, socket_timeout=30)
    _counter.incr(f"runs:{i}")
    return i + 1000


@app.task
def add(a, b):
    """Returns a + b, computed by the worker."""
    return a + b
