"""Fixtures for the nbgrader harness over every lab (see docs/labs.md, "Testing a lab")."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from nbgrader_harness import LABS_DIR, REFERENCE_SECONDS, LabCourse


def lab_ids() -> list[str]:
    """Every folder labs/<id>/ holding labs/<id>/<id>.ipynb: the harness covers them all."""
    return sorted(p.name for p in LABS_DIR.iterdir() if (p / f"{p.name}.ipynb").is_file()) if LABS_DIR.is_dir() else []


@pytest.fixture(scope="session")
def interpreter_bin_on_path():
    """nbgrader runs the ``alembic`` executable (gradebook migrations) found on PATH; put this
    interpreter's bin/ first so ``.venv/bin/python -m pytest`` works without activating the venv."""
    old = os.environ.get("PATH", "")
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), old])
    yield
    os.environ["PATH"] = old


@pytest.fixture(scope="module", params=lab_ids())
def lab(request, tmp_path_factory, interpreter_bin_on_path) -> LabCourse:
    """A temporary nbgrader course holding one lab, with its student version generated."""
    course = LabCourse(tmp_path_factory.mktemp(f"course-{request.param}"), LABS_DIR / request.param)
    result = course.generate()
    course.generate_result = result
    return course


def pytest_terminal_summary(terminalreporter):
    if REFERENCE_SECONDS:
        terminalreporter.section("lab reference autograde times")
        for lab_id, seconds in sorted(REFERENCE_SECONDS.items()):
            terminalreporter.write_line(f"{lab_id}: {seconds:.1f} s (kernel start + full run)")
