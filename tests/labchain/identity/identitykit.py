"""Shared data of the identity tests (import from here, not from conftest: in a multi-folder
run ``conftest`` may name another folder's module): the fixed clock and seeded consortia."""
from __future__ import annotations

import datetime as dt

from labchain.identity.cryptogen import generate
NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.timezone.utc)
SUITES = ("p256-sha256", "sm2-sm3")


def template(suite: str, seed: str = "identity-tests", orgs: int = 4) -> dict:
    return {"suite": suite, "seed": seed, "valid_days": 365,
            "orgs": [{"name": "org", "count": orgs, "nodes": {"consensus": 1, "common": 1},
                      "users": {"admin": 2, "client": 1, "light": 1}}]}


_CACHE: dict = {}


def consortium_of(suite: str, seed: str = "identity-tests"):
    if (suite, seed) not in _CACHE:
        _CACHE[suite, seed] = generate(template(suite, seed), now=NOW)
    return _CACHE[suite, seed]
