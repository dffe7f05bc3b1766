"""The one switch: LABCHAIN_REQUIRE_ALL=1 turns every missing Docker/PostgreSQL/root into a
failure; without it they skip (LABCHAIN_REQUIRE_DOCKER=1 still makes Docker mandatory)."""
from __future__ import annotations

import pytest
from needs import KINDS, mandatory, unavailable


@pytest.mark.parametrize("kind", KINDS)
def test_a_missing_requirement_skips_or_fails(kind, monkeypatch):
    for var in ("LABCHAIN_REQUIRE_ALL", "LABCHAIN_REQUIRE_DOCKER", "CI"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(pytest.skip.Exception, match=f"needs {kind}: gone"):
        unavailable(kind, "gone")
    monkeypatch.setenv("LABCHAIN_REQUIRE_ALL", "1")
    with pytest.raises(pytest.fail.Exception, match=f"needs {kind} and this run requires it"):
        unavailable(kind, "gone")


def test_the_older_switches_still_work(monkeypatch):
    for var in ("LABCHAIN_REQUIRE_ALL", "LABCHAIN_REQUIRE_DOCKER", "CI"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LABCHAIN_REQUIRE_DOCKER", "1")
    assert mandatory("docker") and not mandatory("root") and not mandatory("postgres")
    monkeypatch.setenv("CI", "true")
    assert mandatory("postgres") and not mandatory("root")
    with pytest.raises(ValueError, match="unknown requirement"):
        mandatory("gpu")
