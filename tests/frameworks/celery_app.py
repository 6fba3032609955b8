"""The Celery application of the framework tests: one task that adds two numbers.

Broker and result backend are both `PYLON_CELERY_URL` (a Redis URL: Pylon's, or a
plain Redis's to check the test itself). The worker imports this module by name
(`celery -A celery_app worker`), its folder being on PYTHONPATH.
"""

import os

from celery import Celery

URL = os.environ["PYLON_CELERY_URL"]

app = Celery("pylon_check", broker=URL, backend=URL)
app.conf.update(
    broker_connection_retry_on_startup=False,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
)


@app.task
def add(a, b):
    """Returns a + b, computed by the worker."""
    return a + b
