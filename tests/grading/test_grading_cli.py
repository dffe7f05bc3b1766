"""``labchain-grade`` end to end in a subprocess: help, exit codes, the whole workflow."""
from __future__ import annotations

import csv
import re
import subprocess
import sys

import pytest
from grading_kit import LABS, write_submissions
from grading_corpus import CORPUS

from grading.course import Course


def grade(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "grading.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=300, cwd=cwd)


def test_help_lists_every_command_and_option_descriptions():
    out = grade("--help")
    assert out.returncode == 0
    for command in ("init", "generate", "collect", "autograde", "checks", "feedback", "export", "report"):
        assert command in out.stdout
    out = grade("autograde", "--help")
    assert out.returncode == 0 and "restore_deleted_cells" in out.stdout and "--workers" in out.stdout


def test_errors_exit_2_with_a_sentence(tmp_path):
    out = grade("generate", "--course", tmp_path)
    assert out.returncode == 2 and "is not a course directory" in out.stderr
    out = grade("init", tmp_path / "c", "--labs-dir", tmp_path / "nowhere")
    assert out.returncode == 2 and "does not exist" in out.stderr
    out = grade("export", "--format", "excel")
    assert out.returncode == 2 and "invalid choice" in out.stderr


@pytest.mark.slow
def test_workflow_init_generate_collect_autograde_export(tmp_path):
    root = tmp_path / "course"
    assert grade("init", root, "--labs-dir", LABS).returncode == 0
    out = grade("generate", "--course", root)
    assert out.returncode == 0 and "generated lab-a" in out.stdout
    course = Course.open(root)
    cases = [c for c in CORPUS if c.student in ("a01-correct", "a17-deleted-tests", "a24-not-a-notebook")]
    incoming = write_submissions(course, cases)
    out = grade("collect", "--course", root, incoming)
    assert out.returncode == 0 and "imported 0 notebook(s)" in out.stdout    # write_submissions collected them
    assert "already imported 3;" in out.stdout and "collect-summary.json" in out.stdout
    out = grade("autograde", "lab-a", "--course", root, "--workers", "2", "--sandbox", "os",
                "--limit", "timeout_per_cell=5")
    assert out.returncode == 1, out.stderr                        # one submission failed
    summary = out.stdout
    for line in (r"graded\s+2", r"failed\s+1", r"tampered\s+1", r"sandbox\s+os"):
        assert re.search(f"^{line}$", summary, re.M), summary
    assert "a24-not-a-notebook: failed unreadable" in summary
    assert "autograde" in out.stderr                              # the tqdm progress bar
    assert course.log_path("lab-a", "a17-deleted-tests").is_file()
    out = grade("export", "--course", root, "--format", "canvas")
    assert out.returncode == 0
    rows = list(csv.reader((root / "exports" / "grades-canvas.csv").open()))
    assert {r[2]: r[5] for r in rows[2:]} == {"a01-correct": "10", "a17-deleted-tests": "10",
                                              "a24-not-a-notebook": "0"}
