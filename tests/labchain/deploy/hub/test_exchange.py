"""The student side of the submission outbox, without Docker (gather runs against real volumes
in tests/docker/test_docker_hub.py)."""
from __future__ import annotations

import pytest

from labchain.deploy.hub.exchange import check_lab, outbox_volume, submit
from labchain.deploy.hub.settings import HubError


def test_submit_puts_the_notebook_under_its_lab_with_a_timestamp_and_replaces_an_older_one(tmp_path):
    nb = tmp_path / "work.ipynb"
    nb.write_text("first")
    target = submit("lab01", nb, tmp_path / "outbox")
    assert target == tmp_path / "outbox" / "lab01" / "lab01.ipynb" and target.read_text() == "first"
    assert (tmp_path / "outbox" / "lab01" / "timestamp.txt").read_text().strip().endswith("UTC")
    nb.write_text("second")
    submit("lab01", nb, tmp_path / "outbox")
    assert target.read_text() == "second"
    assert sorted(p.name for p in (tmp_path / "outbox" / "lab01").iterdir()) == ["lab01.ipynb", "timestamp.txt"]


def test_bad_lab_names_and_missing_notebooks_are_refused(tmp_path):
    for bad in ("../etc", "", "a/b", ".hidden"):
        with pytest.raises(HubError, match="is not a lab name"):
            check_lab(bad)
    with pytest.raises(HubError, match="no such notebook"):
        submit("lab01", tmp_path / "missing.ipynb", tmp_path / "outbox")
    assert outbox_volume("s001") == "lc-s001-submit"
