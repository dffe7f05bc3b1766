"""Import submissions into ``COURSE/submitted/<student>/<lab>/<notebook>.ipynb``.

Accepted inputs:

- a folder tree ``PATH/<student>/<lab>/<notebook>.ipynb`` (what nbgrader's exchange makes);
- a zip from an LMS. File names are mapped to students by these patterns:

  ========  ==============================================================================
  Canvas    ``<name>_[LATE_]<canvas user id>_<submission id>_<notebook>[-N].ipynb``
  Moodle    ``<Full Name>_<participant id>_assignsubmission_file_/<notebook>.ipynb``
  tree      ``<student>/<lab>/<notebook>.ipynb`` inside the zip
  ========  ==============================================================================

  The notebook name tells the lab. An LMS id is translated to the course's student id through
  the roster's ``lms_user_id`` column when the roster has it.

A roster CSV (columns ``id`` and optionally ``first_name, last_name, email, lms_user_id,
sis_user_id, sis_login_id, section``) adds names and ids; it is merged into ``COURSE/roster.csv``.
Nothing is extracted blindly: members are read one by one, names are checked, and a member
that matches no rule is reported and skipped.
"""
from __future__ import annotations

import csv
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from grading.course import ROSTER_FIELDS, Course
from grading.errors import CourseError

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,127}$")
CANVAS = re.compile(r"^(?P<name>[^_/]+)_(?:late_)?(?P<lms>\d+)_(?P<sub>\d+)_(?P<file>[^/]+\.ipynb)$", re.I)
MOODLE = re.compile(r"^(?P<name>[^/_]+)_(?P<lms>\d+)_assignsubmission_file_?/(?:.*/)?(?P<file>[^/]+\.ipynb)$")
TREE = re.compile(r"^(?:.*/)?(?P<student>[^/]+)/(?P<lab>[^/]+)/(?P<file>[^/]+\.ipynb)$")
RESUBMISSION = re.compile(r"-\d+$")   # Canvas renames a second upload lab.ipynb -> lab-1.ipynb


@dataclass
class CollectResult:
    imported: list[tuple[str, str, str]] = field(default_factory=list)   # (student, lab, notebook)
    skipped: list[tuple[str, str]] = field(default_factory=list)         # (member or path, reason)


def read_roster(path: str | Path) -> dict[str, dict[str, str]]:
    path = Path(path)
    if not path.is_file():
        raise CourseError(f"roster {path} does not exist", path)
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or "id" not in reader.fieldnames:
            raise CourseError(f"roster {path} needs an 'id' column (and may have "
                              f"{', '.join(ROSTER_FIELDS[1:])})", path)
        rows = {}
        for n, row in enumerate(reader, start=2):
            sid = (row.get("id") or "").strip()
            if not STUDENT_ID.match(sid):
                raise CourseError(f"roster {path} line {n}: {sid!r} is not a valid student id", row)
            rows[sid] = {k: (row.get(k) or "").strip() for k in ROSTER_FIELDS}
    return rows


def _notebook_index(course: Course) -> dict[str, str]:
    """notebook id -> lab (a notebook name must be unique across labs to be recognised)."""
    index: dict[str, str] = {}
    for lab in course.labs():
        for nb in course.notebooks(lab):
            index[nb] = lab
    return index


def _store(course: Course, result: CollectResult, student: str, lab: str, notebook: str,
           data: bytes, origin: str) -> None:
    if not STUDENT_ID.match(student):
        result.skipped.append((origin, f"{student!r} is not a valid student id"))
        return
    target = course.submitted(lab, student, notebook)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    result.imported.append((student, lab, notebook))


def collect(course: Course, path: str | Path, roster: str | Path | None = None) -> CollectResult:
    """Import submissions from a folder tree or an LMS zip; optionally merge a roster."""
    path = Path(path)
    rows = course.roster()
    if roster is not None:
        rows.update(read_roster(roster))
        course.write_roster(rows)
    by_lms = {r["lms_user_id"]: sid for sid, r in rows.items() if r.get("lms_user_id")}
    index = _notebook_index(course)
    result = CollectResult()
    if path.is_dir():
        for nb_path in sorted(path.glob("*/*/*.ipynb")):
            student, lab = nb_path.parent.parent.name, nb_path.parent.name
            if lab not in course.labs() or nb_path.stem not in course.notebooks(lab):
                result.skipped.append((str(nb_path), f"{lab}/{nb_path.name} is not a notebook of any lab"))
                continue
            _store(course, result, student, lab, nb_path.stem, nb_path.read_bytes(), str(nb_path))
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if info.is_dir():
                    continue
                name = info.filename
                if PurePosixPath(name).is_absolute() or ".." in PurePosixPath(name).parts:
                    result.skipped.append((name, "unsafe path in zip"))
                    continue
                student, stem = _student_and_notebook(name, by_lms)
                if student is None:
                    if name.endswith(".ipynb"):
                        result.skipped.append((name, "file name matches no Canvas, Moodle or "
                                                     "<student>/<lab>/<notebook>.ipynb pattern"))
                    continue
                if stem not in index:
                    stem = RESUBMISSION.sub("", stem)
                lab = index.get(stem)
                if lab is None:
                    result.skipped.append((name, f"{stem}.ipynb is not a notebook of any lab"))
                    continue
                _store(course, result, student, lab, stem, zf.read(info), name)
    else:
        raise CourseError(f"{path} is neither a folder nor a zip file", path)
    return result


def _student_and_notebook(name: str, by_lms: dict[str, str]) -> tuple[str | None, str]:
    base = PurePosixPath(name).name
    for pattern in (MOODLE, CANVAS):
        m = pattern.match(name) if pattern is MOODLE else pattern.match(base)
        if m:
            return by_lms.get(m["lms"], m["lms"]), PurePosixPath(m["file"]).stem
    m = TREE.match(name)
    if m:
        return m["student"], PurePosixPath(m["file"]).stem
    return None, ""
