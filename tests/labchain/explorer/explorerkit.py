"""Helpers of the explorer tests (import from here, never from ``conftest``: in a whole-suite
run that name can be another folder's conftest)."""
from __future__ import annotations

import urllib.error
import urllib.request

from polling import wait_until as _wait_until


def fetch(base: str, path: str) -> tuple[int, str]:
    """(status, body) of a GET; error statuses are returned, not raised."""
    try:
        with urllib.request.urlopen(base + path, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def wait_until(predicate, timeout: float = 60.0, what: str = "condition"):
    return _wait_until(predicate, timeout, what)
