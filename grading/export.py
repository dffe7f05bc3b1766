"""Grade files for LMS import, and a JSON report, read from nbgrader's gradebook.

=======  ==============================================================================
canvas   Student, ID, SIS User ID, SIS Login ID, Section, then one column per lab
         (Canvas's gradebook import layout; a "Points Possible" row follows the header)
moodle   ID number, Email address, then one column per lab (map "ID number" to
         ``idnumber`` in Moodle's grade import)
csv      nbgrader's own CSV export (assignment, duedate, timestamp, student_id, ...)
=======  ==============================================================================

The JSON report lists, per student and lab, score, max score, per-cell scores and the
autograder's flags (tampered, timeout...). Names and LMS ids come from ``COURSE/roster.csv``.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

from grading.course import Course
from grading.errors import CourseError
from grading.gradebook import done_rows, gradebook

FORMATS = ("canvas", "moodle", "csv")


def collect_scores(course: Course) -> dict:
    """{"labs": {lab: max_score}, "students": {id: {"name"..., "labs": {lab: {...}}}}}."""
    roster = course.roster()
    with gradebook(course.db_url) as gb:
        flags = done_rows(gb)
        labs = {a.name: float(a.max_score) for a in gb.assignments}
        students: dict[str, dict] = {}
        for student in gb.students:
            row = roster.get(student.id, {})
            entry = {"first_name": student.first_name or row.get("first_name", ""),
                     "last_name": student.last_name or row.get("last_name", ""),
                     "email": student.email or row.get("email", ""),
                     "lms_user_id": student.lms_user_id or row.get("lms_user_id", ""),
                     "sis_user_id": row.get("sis_user_id", ""), "sis_login_id": row.get("sis_login_id", ""),
                     "section": row.get("section", ""), "labs": {}}
            for sub in student.submissions:
                lab = sub.assignment.name
                cells = {g.name: {"score": float(g.score), "max_score": float(g.max_score)}
                         for nb in sub.notebooks for g in nb.grades}
                done = flags.get((lab, student.id), {})
                entry["labs"][lab] = {"score": float(sub.score), "max_score": float(sub.max_score),
                                      "cells": cells, "status": done.get("status", "not autograded"),
                                      "flags": [f for f in (done.get("flags") or "").split(",") if f]}
            students[student.id] = entry
        gb.db.rollback()
    return {"labs": labs, "students": students}


def export(course: Course, fmt: str, out: str | Path | None = None) -> tuple[Path, Path]:
    """Write the grade file and ``<same name>.json``; returns both paths."""
    if fmt not in FORMATS:
        raise CourseError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}", fmt)
    out = Path(out) if out else course.dir("exports") / f"grades-{fmt}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    data = collect_scores(course)
    labs = sorted(data["labs"])
    if fmt == "csv":
        from nbgrader.plugins import CsvExportPlugin

        with gradebook(course.db_url) as gb:
            plugin = CsvExportPlugin()
            plugin.to = str(out)
            plugin.export(gb)
    else:
        with out.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            if fmt == "canvas":
                w.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *labs])
                w.writerow(["    Points Possible", "", "", "", "", *(_num(data["labs"][lab]) for lab in labs)])
                for sid, s in sorted(data["students"].items()):
                    name = ", ".join(filter(None, [s["last_name"], s["first_name"]])) or sid
                    w.writerow([name, s["lms_user_id"], s["sis_user_id"] or sid, s["sis_login_id"],
                                s["section"], *(_score(s, lab) for lab in labs)])
            else:
                w.writerow(["ID number", "Email address", *labs])
                for sid, s in sorted(data["students"].items()):
                    w.writerow([sid, s["email"], *(_score(s, lab) for lab in labs)])
    report = out.with_suffix(".json")
    report.write_text(json.dumps(data, indent=2, sort_keys=True))
    return out, report


def _num(x: float) -> str:
    return f"{x:g}"


def _score(student: dict, lab: str) -> str:
    entry = student["labs"].get(lab)
    return _num(entry["score"]) if entry else ""
