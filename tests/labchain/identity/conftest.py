"""Identity tests: seeded consortia built once per session (data in ``identitykit.py``).

``consortium`` is parametrised over both crypto suites: 4 orgs, each with one consensus and one
common node and admin1, admin2, client1, light1 users, valid from ``NOW`` for 365 days.
"""
from __future__ import annotations

import datetime as dt

import pytest

from identitykit import NOW, SUITES, consortium_of
from labchain.identity.members import MemberStore


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
