"""The same grading run against a PostgreSQL gradebook (CI starts a server; see conftest)."""
from __future__ import annotations

import pytest
from grading_kit import LABS, TEST_LIMITS, scores, write_submissions
from grading_corpus import CORPUS

from grading import api
from grading.gradebook import done_rows, gradebook

#: a cross-section of the corpus: correct, partial, broken, tampered, timeout, crash
PICK = {"a01-correct", "a02-no-lowercase", "a05-syntax-error", "a12-os-exit", "a13-infinite-loop",
        "a17-deleted-tests", "a19-edited-tests", "a24-not-a-notebook", "b01-correct", "b02-prime-of-one"}


@pytest.mark.postgres
@pytest.mark.slow
def test_postgres_gradebook_gets_the_same_scores(postgres_db, tmp_path):
    course = api.init(tmp_path / "course", LABS, db_url=postgres_db, copy=True)
    assert course.db_url.startswith("postgresql")
    api.generate(course)
    cases = [c for c in CORPUS if c.student in PICK]
    write_submissions(course, cases)
    summary = api.autograde(course, workers=2, sandbox="os", limits=TEST_LIMITS)
    got = scores(course)
    assert {(c.lab, c.student): float(c.expected) for c in cases} == got
    assert summary.counts()["tampered"] == 2
    with gradebook(course.db_url) as gb:
        assert gb.engine.dialect.name == "postgresql"
        assert len(done_rows(gb)) == len(cases)
