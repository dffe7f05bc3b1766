"""``wait_until``: the one polling helper of the suite (tests must wait on behaviour with
generous deadlines, never on a fixed sleep; the machine may be a loaded 2-core CI box)."""
from __future__ import annotations

import time


def wait_until(predicate, timeout: float = 30.0, what: str = "condition", interval: float = 0.1):
    """Poll ``predicate`` until it returns a truthy value (which is returned); fail with
    ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)
    return value
