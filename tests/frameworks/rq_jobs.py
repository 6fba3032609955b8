"""The job an RQ worker runs in the framework tests: adds two numbers and writes the sum.

The worker imports this module by name (its folder is on PYTHONPATH), as it would
import any application's jobs.
"""

from rq import get_current_job


def add(a, b, key):
    """Writes a + b to `key` through the worker's own connection and returns it."""
    total = a + b
    get_current_job().connection.set(key, total)
    return total


def count(i):
    """Counts this run of job i in `runs:<i>` and returns i + 1000."""
    get_current_job().connection.incr(f"runs:{i}")
    return i + 1000
