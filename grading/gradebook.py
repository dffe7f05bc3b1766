"""Access to nbgrader's gradebook, plus LabChain's completion record.

Only the trusted parent opens the gradebook; sandboxed code never gets its URL or file.
``labchain_autograde`` (one row per graded lab and student, committed in the same
transaction as the grades) is what makes ``autograde`` resumable: a submission with a row
is done, one without is graded (again) on the next run.
"""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager

from sqlalchemy import Column, Float, MetaData, String, Table, Text, delete, select

_metadata = MetaData()
AUTOGRADE_TABLE = Table(
    "labchain_autograde", _metadata,
    Column("lab", String(128), primary_key=True),
    Column("student", String(128), primary_key=True),
    Column("status", String(16), nullable=False),     # graded | failed
    Column("flags", Text, nullable=False, default=""),  # comma-separated: tampered,timeout,...
    Column("score", Float), Column("max_score", Float),
    Column("sandbox", String(32)), Column("seconds", Float),
    Column("message", Text), Column("run_id", String(32)), Column("graded_at", String(40)),
)


def _alembic_on_path() -> None:
    """nbgrader runs the ``alembic`` command when it creates a database: find ours."""
    bindir = os.path.dirname(sys.executable)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")


def open_gradebook(db_url: str):
    from nbgrader.api import Gradebook

    from grading.course import COURSE_ID
    _alembic_on_path()
    gb = Gradebook(db_url, COURSE_ID)
    _metadata.create_all(gb.engine)
    return gb


@contextmanager
def gradebook(db_url: str):
    gb = open_gradebook(db_url)
    try:
        yield gb
    finally:
        gb.close()
        gb.engine.dispose()


def done_rows(gb, lab: str | None = None) -> dict[tuple[str, str], dict]:
    query = select(AUTOGRADE_TABLE)
    if lab is not None:
        query = query.where(AUTOGRADE_TABLE.c.lab == lab)
    rows = gb.db.execute(query).mappings().all()
    gb.db.rollback()
    return {(r["lab"], r["student"]): dict(r) for r in rows}


def record_done(gb, row: dict) -> None:
    """Replace the completion row of ``row['lab'], row['student']`` (no commit)."""
    t = AUTOGRADE_TABLE
    gb.db.execute(delete(t).where(t.c.lab == row["lab"], t.c.student == row["student"]))
    gb.db.execute(t.insert().values(**row))
