"""Grade files for LMS import, and a JSON report, read from nbgrader's gradebook.

=======  ==============================================================================
canvas   Student, ID, SIS User ID, SIS Login ID, Section, then one column per lab
         (Canvas's gradebook import layout; a "Points Possible" row follows the header)
moodle   ID number, Email address, then one column per lab (map "ID number" to
         ``idnumber`` in Moodle's grade import)
csv      nbgrader's own CSV export (assignment, duedate, timestamp, student_id, ...)
=======  ==============================================================================

The JSON report lists, per student and lab, score, max score, per-cell scores, the
autograder's flags (tampered, timeout...), and the submission's ``timestamp`` and ``late``
(Canvas's ``_late_`` marker, or a timestamp after the lab's due date) as ``collect``
recorded them. Names and LMS ids come from ``COURSE/roster.csv``.

Each student is one item of a ``grading.batch`` run (summary ``<file>-summary.json``): a
student whose row cannot be built, whose id is not a safe CSV cell, or who submitted a lab
that has no grade in the gradebook (never autograded, or its gradebook row is missing) is
reported as failed with the reason; the others are exported. The grade file is one file, so
every run rewrites all its rows (cheap: one gradebook read). Text cells that a spreadsheet
would run as a formula (``=``, ``+``, ``-``, ``@``) are prefixed with ``'``.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

from grading import batch
from grading.collect import STUDENT_ID, submission_meta
from grading.course import Course
from grading.errors import CourseError, SubmissionError
from grading.gradebook import done_rows, gradebook

FORMATS = ("canvas", "moodle", "csv")


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _lab_entry(course: Course, sub, student_id: str, done: dict) -> dict:
    lab = sub.assignment.name
    cells = {g.name: {"score": float(g.score), "max_score": float(g.max_score)}
             for nb in sub.notebooks for g in nb.grades}
    meta = submission_meta(course, lab, student_id)
    duedate = sub.assignment.duedate
    late = bool(meta.get("late")) or bool(sub.timestamp and duedate and sub.timestamp > duedate)
    return {"score": float(sub.score), "max_score": float(sub.max_score), "cells": cells,
            "status": done.get("status", "not autograded"),
            "flags": [f for f in (done.get("flags") or "").split(",") if f],
            "timestamp": sub.timestamp.isoformat() if sub.timestamp else meta.get("timestamp"),
            "late": late}


def collect_scores(course: Course, problems: dict[str, str] | None = None) -> dict:
    """{"labs": {lab: max_score}, "students": {id: {"name"..., "labs": {lab: {...}}}}}.

    A student whose entry cannot be built is left out and, if ``problems`` is given, the
    reason is put there (``{student: sentence}``); the others are unaffected.
    """
    roster = course.roster()
    with gradebook(course.db_url) as gb:
        flags = done_rows(gb)
        labs = {a.name: float(a.max_score) for a in gb.assignments}
        students: dict[str, dict] = {}
        for student in gb.students:
            try:
                row = roster.get(student.id, {})
                entry = {"first_name": student.first_name or row.get("first_name", ""),
                         "last_name": student.last_name or row.get("last_name", ""),
                         "email": student.email or row.get("email", ""),
                         "lms_user_id": student.lms_user_id or row.get("lms_user_id", ""),
                         "sis_user_id": row.get("sis_user_id", ""), "sis_login_id": row.get("sis_login_id", ""),
                         "section": row.get("section", ""), "labs": {}}
                for sub in student.submissions:
                    entry["labs"][sub.assignment.name] = _lab_entry(
                        course, sub, student.id, flags.get((sub.assignment.name, student.id), {}))
                students[student.id] = entry
            except Exception as exc:  # noqa: BLE001 - one bad row never stops the export
                gb.db.rollback()
                if problems is not None:
                    problems[str(student.id)] = batch.sentence(exc)
        gb.db.rollback()
    return {"labs": labs, "students": students}


def _cell(value) -> str:
    """A CSV text cell a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _writable(path: Path) -> Path:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a"):
            pass
    except OSError as exc:
        raise CourseError(f"cannot write {path}: {exc.strerror or exc}", path) from exc
    return path


def export(course: Course, fmt: str, out: str | Path | None = None, *,
           progress: bool = False) -> tuple[Path, Path, batch.BatchSummary]:
    """Write the grade file, ``<same name>.json`` and ``<same name>-summary.json``."""
    if fmt not in FORMATS:
        raise CourseError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}", fmt)
    out = _writable(Path(out) if out else course.dir("exports") / f"grades-{fmt}.csv")
    problems: dict[str, str] = {}
    data = collect_scores(course, problems)
    labs = sorted(data["labs"])
    submitted = {(lab, s) for lab in course.labs() for s in course.submissions(lab)}
    everyone = sorted(set(data["students"]) | set(problems) | {s for _, s in submitted})
    rows: dict[str, list] = {}

    def build(sid: str):
        if sid in problems:
            raise SubmissionError(f"the gradebook entry of {sid!r} cannot be read "
                                  f"({problems[sid].rstrip('.')}); left out", sid)
        if not STUDENT_ID.match(sid):
            raise SubmissionError(f"{sid!r} is not a valid student id (a CSV cell or file name "
                                  "would break); left out", sid)
        s = data["students"].get(sid, {"labs": {}, "first_name": "", "last_name": "", "email": "",
                                       "lms_user_id": "", "sis_user_id": "", "sis_login_id": "",
                                       "section": ""})
        if fmt == "canvas":
            name = ", ".join(filter(None, [s["last_name"], s["first_name"]])) or sid
            rows[sid] = [_cell(v) for v in (name, s["lms_user_id"], s["sis_user_id"] or sid,
                                            s["sis_login_id"], s["section"])]
            rows[sid] += [_score(s, lab) for lab in labs]
        elif fmt == "moodle":
            rows[sid] = [_cell(sid), _cell(s["email"]), *(_score(s, lab) for lab in labs)]
        ungraded = sorted(lab for lab in course.labs() if (lab, sid) in submitted and lab not in s["labs"])
        if ungraded:
            raise SubmissionError(f"{', '.join(ungraded)} was submitted but has no grade in the "
                                  f"gradebook; run `labchain-grade autograde` (its score is left blank)", sid)

    summary = batch.run("export", everyone, build, progress=progress)
    if fmt == "csv":
        from nbgrader.plugins import CsvExportPlugin

        with gradebook(course.db_url) as gb:
            plugin = CsvExportPlugin()
            plugin.to = str(out)
            plugin.export(gb)
    else:
        tmp = out.with_name(out.name + ".tmp")
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            if fmt == "canvas":
                w.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *labs])
                w.writerow(["    Points Possible", "", "", "", "", *(_num(data["labs"][lab]) for lab in labs)])
            else:
                w.writerow(["ID number", "Email address", *labs])
            for sid in sorted(rows):
                w.writerow(rows[sid])
        tmp.replace(out)
    report = out.with_suffix(".json")
    report.write_text(json.dumps(data, indent=2, sort_keys=True))
    summary.write(out.with_name(out.stem + batch.SUMMARY_SUFFIX))
    return out, report, summary


def _num(x: float) -> str:
    return f"{x:g}"


def _score(student: dict, lab: str) -> str:
    entry = student["labs"].get(lab)
    return _num(entry["score"]) if entry else ""
