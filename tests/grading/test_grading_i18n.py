"""A zh-CN course: the autograded (hence feedback) notebook keeps the Chinese Markdown the
student got, while locked code cells, hidden tests and points still come from the gradebook.

A real course: the fixture lab with a locked Markdown cell and a zh-CN catalog, released with
``api.generate(lang="zh-CN")`` (nbgrader's own generate), then the pipeline's sanitize steps.
"""
from __future__ import annotations

import json
import logging
import shutil

import nbformat
import pytest
import yaml
from grading_kit import LABS

from grading import api
from grading.options import AutogradeOptions
from grading.pipeline import SANITIZE, Context, run_steps
from labchain.i18n.catalog import english_hash

LOCKED = {"grade": False, "grade_id": "intro", "locked": True, "schema_version": 3, "solution": False}


@pytest.fixture(scope="module")
def zh_course(tmp_path_factory):
    root = tmp_path_factory.mktemp("zh-course")
    labs = root / "labs"
    shutil.copytree(LABS / "lab-a", labs / "lab-a")
    path = labs / "lab-a" / "lab-a.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    markdown = [c for c in nb["cells"] if c["cell_type"] == "markdown"]
    markdown[0]["metadata"]["nbgrader"] = dict(LOCKED)          # the lab's locked introduction
    path.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    cells = {c["id"]: {"en_sha256": english_hash("".join(c["source"])), "text": f"中文说明 {i}：哈希热身"}
             for i, c in enumerate(markdown)}
    (labs / "lab-a" / "i18n").mkdir()
    (labs / "lab-a" / "i18n" / "zh-CN.yaml").write_text(
        yaml.safe_dump({"language": "zh-CN", "notebook": "lab-a.ipynb", "cells": cells}, allow_unicode=True),
        encoding="utf-8")
    course = api.init(root / "course", labs, copy=True)
    api.generate(course, ["lab-a"], lang="zh-CN")
    return course


def _ctx(course, release):
    return Context(lab="lab-a", student="s1", notebook="lab-a", db_url=course.db_url, release=release,
                   options=AutogradeOptions(), log=logging.getLogger("test"))


def test_locked_markdown_stays_chinese_and_code_comes_from_the_gradebook(zh_course):
    release = nbformat.read(str(zh_course.release("lab-a", "lab-a")), as_version=4)
    intro = next(c for c in release.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "intro")
    assert intro.source == "中文说明 0：哈希热身"                     # the student version is Chinese
    submission = nbformat.from_dict(json.loads(json.dumps(release)))
    ctx = _ctx(zh_course, release)
    out = run_steps(submission, ctx, SANITIZE)
    assert ctx.flags == set(), ctx.problems                         # the Chinese text is no tampering
    by_id = {c.metadata["nbgrader"]["grade_id"]: c for c in out.cells if "nbgrader" in c.metadata}
    assert by_id["intro"].source == "中文说明 0：哈希热身"
    assert [c.source for c in out.cells if c.cell_type == "markdown"] == \
        [f"中文说明 {i}：哈希热身" for i in range(3)]
    assert "### BEGIN HIDDEN TESTS" in by_id["test_sha_hex_hidden"].source   # restored from the gradebook


def test_an_edited_locked_chinese_cell_is_put_back_and_flagged(zh_course):
    release = nbformat.read(str(zh_course.release("lab-a", "lab-a")), as_version=4)
    submission = nbformat.from_dict(json.loads(json.dumps(release)))
    intro = next(c for c in submission.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "intro")
    intro.source = "the student rewrote the introduction"
    ctx = _ctx(zh_course, release)
    out = run_steps(submission, ctx, SANITIZE)
    assert "locked cell 'intro' was edited" in ctx.problems
    restored = next(c for c in out.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "intro")
    assert restored.source == "中文说明 0：哈希热身"
