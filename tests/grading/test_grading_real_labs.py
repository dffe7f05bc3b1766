"""The repository's own labs grade as expected: the instructor's solution earns every point,
the untouched student version earns none (real nbgrader, real sandbox)."""
from __future__ import annotations

from pathlib import Path

import pytest
from grading_kit import scores

from grading import api

REPO_LABS = Path(__file__).resolve().parents[2] / "labs"
LABS = ["01-hashes-merkle", "02-keys-signatures"]   # the labs that need no testnet


@pytest.mark.slow
def test_solutions_get_full_marks_and_untouched_notebooks_none(tmp_path):
    present = [lab for lab in LABS if (REPO_LABS / lab / f"{lab}.ipynb").is_file()]
    if not present:
        pytest.skip(f"none of {LABS} in {REPO_LABS}")
    course = api.init(tmp_path / "course", REPO_LABS, copy=True, labs=present)
    api.generate(course)
    for lab in present:
        for student, source in (("solution", course.dir("source")), ("untouched", course.dir("release"))):
            target = course.submitted(lab, student, lab)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes((source / lab / f"{lab}.ipynb").read_bytes())
    summary = api.autograde(course, workers=2, sandbox="os")
    problems = {(o.lab, o.student): o.message for o in summary.outcomes if o.status != "graded" or o.flags}
    got = scores(course)
    from grading.export import collect_scores
    max_scores = collect_scores(course)["labs"]
    for lab in present:
        assert got[(lab, "solution")] == max_scores[lab], problems
        assert got[(lab, "untouched")] == 0, problems
