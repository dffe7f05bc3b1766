"""The student side of the assignment flow (fetch, submit, feedback) on plain folders, and the
host side's gather and return on folders standing in for volume mount points (the real volumes,
containers and hub are in tests/docker/test_docker_hub_exchange.py)."""
from __future__ import annotations

import os
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from labchain.deploy.hub import exchange, volumes
from labchain.deploy.hub.exchange import ExchangeError, check_lab, feedback, fetch, submissions, submit
from labchain.deploy.hub.settings import HubError


def test_several_submissions_are_kept_each_in_its_stamped_folder(tmp_path):
    nb = tmp_path / "work.ipynb"
    nb.write_text("first")
    first = submit("lab01", nb, tmp_path / "outbox")
    nb.write_text("second")
    second = submit("lab01", nb, tmp_path / "outbox")
    assert first != second and first.read_text() == "first" and second.read_text() == "second"
    assert first.name == second.name == "lab01.ipynb"
    assert (second.parent / "timestamp.txt").read_text().strip().endswith("UTC")
    assert submissions("lab01", tmp_path / "outbox") == [first.parent.name, second.parent.name]
    assert all(exchange.STAMP.match(s) for s in submissions("lab01", tmp_path / "outbox"))


def test_bad_lab_names_and_missing_notebooks_are_refused(tmp_path):
    for bad in ("../etc", "", "a/b", ".hidden"):
        with pytest.raises(HubError, match="is not a lab name"):
            check_lab(bad)
    with pytest.raises(HubError, match="no such notebook"):
        submit("lab01", tmp_path / "missing.ipynb", tmp_path / "outbox")
    assert volumes.outbox_volume("s001") == "lc-s001-submit"
    assert volumes.feedback_volume("s001") == "lc-s001-feedback"


def released(tmp_path) -> Path:
    (tmp_path / "release" / "lab01").mkdir(parents=True)
    (tmp_path / "release" / "lab01" / "lab01.ipynb").write_text("student version")
    return tmp_path / "release"


def test_fetch_copies_a_release_and_never_overwrites_the_students_work(tmp_path, capsys):
    rel, home = released(tmp_path), tmp_path / "labs"
    assert fetch("lab01", home, rel) == home / "lab01"
    assert (home / "lab01" / "lab01.ipynb").read_text() == "student version"
    assert "fetched lab01" in capsys.readouterr().out
    assert fetch("lab01", home, rel) == home / "lab01"            # unchanged: nothing to do
    assert "nothing to fetch" in capsys.readouterr().out
    (home / "lab01" / "lab01.ipynb").write_text("my answers")
    (rel / "lab01" / "lab01.ipynb").write_text("corrected release")
    assert fetch("lab01", home, rel) == home / "lab01-2"
    assert (home / "lab01" / "lab01.ipynb").read_text() == "my answers"
    assert (home / "lab01-2" / "lab01.ipynb").read_text() == "corrected release"
    assert "nothing of yours was changed" in capsys.readouterr().out
    assert not [p for p in home.iterdir() if p.name.startswith(".")]   # no temporary folder left


def test_fetch_of_an_unreleased_lab_and_feedback_not_returned_say_so_in_both_languages(tmp_path, monkeypatch):
    with pytest.raises(ExchangeError, match="has not been released yet"):
        fetch("lab02", tmp_path / "labs", released(tmp_path))
    with pytest.raises(ExchangeError, match="no feedback on lab01") as info:
        feedback("lab01", tmp_path / "labs", tmp_path / "feedback")
    monkeypatch.setenv("LABCHAIN_LANG", "zh-CN")
    assert str(info.value) == "你在 lab01 上的反馈尚未发回"
    assert info.value.message == "no feedback on lab01 has been returned to you yet"   # English kept


def test_every_student_sentence_of_the_exchange_has_chinese():
    source = Path(exchange.__file__).read_text(encoding="utf-8")
    used = set(re.findall(r'(?:say|ExchangeError)\(\s*"((?:[^"\\]|\\.)*)"(?:\s*\n\s*"((?:[^"\\]|\\.)*)")?', source))
    templates = {a + b for a, b in used}
    table = exchange._catalog("zh-CN")
    assert len(templates) >= 8 and templates <= set(table), templates - set(table)
    for en, zh in table.items():
        assert set(re.findall(r"\{\w+[^}]*\}", en)) == set(re.findall(r"\{\w+[^}]*\}", zh)), en


def test_feedback_copies_the_returned_pages_into_the_students_labs_folder(tmp_path):
    (tmp_path / "feedback" / "lab01").mkdir(parents=True)
    (tmp_path / "feedback" / "lab01" / "lab01.html").write_text("<p>2 of 2</p>")
    (tmp_path / "feedback" / "lab01" / "notes.txt").write_text("not a page")
    pages = feedback("lab01", tmp_path / "labs", tmp_path / "feedback")
    assert pages == [tmp_path / "labs" / "feedback" / "lab01" / "lab01.html"]
    assert pages[0].read_text() == "<p>2 of 2</p>"


class FakeVolumes:
    """Stands in for docker's client.volumes over plain folders (the real one: the Docker test)."""

    def __init__(self, root: Path):
        self.root = root

    def _volume(self, name, labels):
        (self.root / name).mkdir(parents=True, exist_ok=True)
        return SimpleNamespace(name=name, attrs={"Mountpoint": str(self.root / name), "Labels": labels})

    def create(self, name, labels=None):
        return self._volume(name, labels or {})

    def get(self, name):
        if not (self.root / name).is_dir():
            raise LookupError(name)
        return self._volume(name, {})

    def list(self, filters=None):
        return [self._volume(p.name, {"labchain.student": p.name[3:].rsplit("-", 1)[0]})
                for p in sorted(self.root.iterdir())]


def test_gather_takes_the_newest_submission_and_skips_links_and_strays_with_a_message(tmp_path):
    client = SimpleNamespace(volumes=FakeVolumes(tmp_path / "volumes"))
    outbox = Path(client.volumes.create("lc-s001-submit").attrs["Mountpoint"])
    nb = tmp_path / "work.ipynb"
    for text in ("one", "two"):
        nb.write_text(text)
        submit("lab01", nb, outbox)
    secret = tmp_path / "secret.txt"
    secret.write_text("host secret")
    planted = outbox / "lab01" / "29991231T000000.000000Z"       # newest by name, a link inside
    planted.mkdir()
    os.symlink(secret, planted / "lab01.ipynb")
    os.symlink(tmp_path, outbox / "etc")                          # a link where a lab folder goes
    (outbox / "lab01" / "notes.txt").write_text("stray")
    got = volumes.gather(tmp_path / "incoming", client)
    assert got.found["s001"]["lab01"].count == 3
    assert (tmp_path / "incoming" / "s001" / "lab01" / "lab01.ipynb").read_text() == "two"
    assert (tmp_path / "incoming" / "s001" / "lab01" / "timestamp.txt").read_text().endswith("UTC\n")
    said = "\n".join(got.skipped)
    assert "etc in the outbox is not a lab folder (a symbolic link)" in said
    assert "lab01/notes.txt is not a submission (a file)" in said
    assert "29991231T000000.000000Z/lab01.ipynb is missing or not a regular file" in said
    assert "host secret" not in {p.read_text() for p in (tmp_path / "incoming").rglob("*") if p.is_file()}


def test_return_feedback_reaches_only_that_students_volume_and_leaves_a_planted_link_alone(tmp_path):
    client = SimpleNamespace(volumes=FakeVolumes(tmp_path / "volumes"))
    for sid in ("s001", "s002"):
        client.volumes.create(f"lc-{sid}-submit")
    course = tmp_path / "course"
    for sid, lab in (("s001", "lab01"), ("s002", "lab02"), ("s009", "lab01")):
        (course / "feedback" / sid / lab).mkdir(parents=True)
        (course / "feedback" / sid / lab / f"{lab}.html").write_text(f"feedback of {sid}")
    os.symlink(tmp_path / "secret", course / "feedback" / "s001" / "lab01" / "x.html")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    fb2 = Path(client.volumes.create("lc-s002-feedback").attrs["Mountpoint"])
    os.symlink(elsewhere, fb2 / "lab02")
    got = volumes.return_feedback(course, client=client)
    assert got.delivered == {"s001": ["lab01"]}
    fb1 = tmp_path / "volumes" / "lc-s001-feedback"
    assert sorted(p.name for p in fb1.rglob("*")) == ["lab01", "lab01.html"]
    assert (fb1 / "lab01" / "lab01.html").read_text() == "feedback of s001"
    said = "\n".join(got.skipped)
    assert "x.html is not a feedback page" in said
    assert "s002: lab02 in their feedback volume is a symbolic link" in said and not list(elsewhere.iterdir())
    assert "s009 has no volumes on this hub" in said


def test_release_refuses_a_missing_student_version_and_an_instructors_source(tmp_path):
    client = SimpleNamespace(volumes=FakeVolumes(tmp_path / "volumes"))
    with pytest.raises(HubError, match="holds no student version of lab01; run `labchain-grade generate"):
        volumes.release(tmp_path / "course", "lab01", "rel", client)
    (tmp_path / "course" / "release" / "lab01").mkdir(parents=True)
    (tmp_path / "course" / "release" / "lab01" / "lab01.ipynb").write_text('"### BEGIN SOLUTION"')
    with pytest.raises(HubError, match="still holds '### BEGIN SOLUTION'"):
        volumes.release(tmp_path / "course", "lab01", "rel", client)
    (tmp_path / "course" / "release" / "lab01" / "lab01.ipynb").write_text('{"cells": []}')
    assert volumes.release(tmp_path / "course", "lab01", "rel", client).replaced is False
    assert volumes.release(tmp_path / "course", "lab01", "rel", client).replaced is True
    assert (tmp_path / "volumes" / "rel" / "lab01" / "lab01.ipynb").read_text() == '{"cells": []}'
