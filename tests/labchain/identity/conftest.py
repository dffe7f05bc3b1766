"""Identity tests: the Hypothesis ``ci`` profile and seeded consortia built once per session.

``consortium`` is parametrised over both crypto suites: 4 orgs, each with one consensus and one
common node and admin1, admin2, client1, light1 users, valid from ``NOW`` for 365 days.
"""
from __future__ import annotations

import datetime as dt
import os

import pytest
from hypothesis import settings

from labchain.identity.cryptogen import generate
from labchain.identity.members import MemberStore

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

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


@pytest.fixture(params=SUITES)
def suite(request) -> str:
    return request.param


@pytest.fixture
def consortium(suite):
    return consortium_of(suite)


@pytest.fixture
def members(consortium) -> MemberStore:
    return MemberStore.create("permissioned-cert", consortium.suite, consortium.trust_roots)


@pytest.fixture
def now() -> dt.datetime:
    return NOW + dt.timedelta(days=1)
