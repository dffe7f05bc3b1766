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
sis_user_id, sis_login_id, section``), or Canvas's roster/gradebook export (``Student, ID,
SIS User ID, SIS Login ID, Section``: the course id is the SIS User ID, else the Canvas ID),
adds names and ids; it is merged into ``COURSE/roster.csv``.

Nothing is extracted blindly: each file (or zip member) is one item of a ``grading.batch``
run, read on its own, its name checked. Per item:

- ``done``: imported to ``submitted/<student>/<lab>/<notebook>.ipynb``;
- ``skipped``: not a notebook, a notebook of no lab, or already imported with the same bytes
  (so a re-run imports only what is new or was fixed);
- ``failed``: an unsafe zip path, a student id that is not a safe file name / CSV cell
  (``STUDENT_ID``), or, when the course has a roster, a student who is not on it.

Timestamps and lateness: beside each imported notebook, ``timestamp.txt`` (nbgrader's own
file and format, which its late-penalty machinery reads; ``autograde`` stores it as the
submission's timestamp) and ``labchain.json`` (``late``: Canvas's ``_late_`` marker;
``timestamp`` and where it came from: a ``timestamp.txt`` in the tree, else the zip entry's
or file's modification time, taken as UTC). ``export`` reports both.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from grading import batch
from grading.course import ROSTER_FIELDS, Course
from grading.errors import CourseError, SubmissionError

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,127}$")
CANVAS = re.compile(r"^(?P<name>[^_/]+)_(?P<late>late_)?(?P<lms>\d+)_(?P<sub>\d+)_(?P<file>[^/]+\.ipynb)$", re.I)
MOODLE = re.compile(r"^(?P<name>[^/_]+)_(?P<lms>\d+)_assignsubmission_file_?/(?:.*/)?(?P<file>[^/]+\.ipynb)$")
TREE = re.compile(r"^(?:.*/)?(?P<student>[^/]+)/(?P<lab>[^/]+)/(?P<file>[^/]+\.ipynb)$")
RESUBMISSION = re.compile(r"-\d+$")   # Canvas renames a second upload lab.ipynb -> lab-1.ipynb


CANVAS_ROSTER = ("Student", "ID", "SIS User ID")   # Canvas's roster and gradebook exports
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f UTC"         # nbgrader's timestamp.txt
META_NAME = "labchain.json"


@dataclass
class CollectResult:
    imported: list[tuple[str, str, str]] = field(default_factory=list)   # (student, lab, notebook)
    skipped: list[tuple[str, str]] = field(default_factory=list)         # (member or path, reason)
    failed: list[tuple[str, str]] = field(default_factory=list)          # (member or path, reason)
    summary: batch.BatchSummary | None = None


def _canvas_row(row: dict) -> dict[str, str] | None:
    """A Canvas export row as a roster row (None for the "Points Possible" row)."""
    name = (row.get("Student") or "").strip()
    lms = (row.get("ID") or "").strip()
    if not lms and name.lower() in ("points possible", ""):
        return None
    last, _, first = name.partition(",")
    return {"id": (row.get("SIS User ID") or "").strip() or lms, "first_name": first.strip(),
            "last_name": last.strip(), "email": "", "lms_user_id": lms,
            "sis_user_id": (row.get("SIS User ID") or "").strip(),
            "sis_login_id": (row.get("SIS Login ID") or "").strip(),
            "section": (row.get("Section") or "").strip()}


def read_roster(path: str | Path) -> dict[str, dict[str, str]]:
    """Rows by student id, from our roster layout or a Canvas roster export."""
    path = Path(path)
    if not path.is_file():
        raise CourseError(f"roster {path} does not exist", path)
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        fields = [f.strip() for f in reader.fieldnames or []]
        reader.fieldnames = fields
        canvas = "id" not in fields and all(f in fields for f in CANVAS_ROSTER)
        if not canvas and "id" not in fields:
            raise CourseError(f"roster {path} needs an 'id' column (and may have "
                              f"{', '.join(ROSTER_FIELDS[1:])}), or Canvas's "
                              f"{', '.join(CANVAS_ROSTER)} columns", path)
        rows = {}
        for n, row in enumerate(reader, start=2):
            if canvas:
                row = _canvas_row(row)
                if row is None:
                    continue
            sid = (row.get("id") or "").strip()
            if not STUDENT_ID.match(sid):
                raise CourseError(f"roster {path} line {n}: {sid!r} is not a valid student id "
                                  "(letters, digits and _ . @ + - only)", row)
            rows[sid] = {k: (row.get(k) or "").strip() for k in ROSTER_FIELDS}
    return rows


def _notebook_index(course: Course) -> dict[str, str]:
    """notebook id -> lab (a notebook name must be unique across labs to be recognised)."""
    index: dict[str, str] = {}
    for lab in course.labs():
        for nb in course.notebooks(lab):
            index[nb] = lab
    return index


@dataclass(frozen=True, slots=True)
class Incoming:
    """One file offered to collect: where it came from and how to read it."""

    origin: str                 # path or zip member name (the item's name in the summary)
    student: str | None         # None: the name matched no layout
    lab: str | None
    notebook: str
    read: object                # () -> bytes
    timestamp: dt.datetime | None
    timestamp_source: str
    late: bool = False
    problem: str = ""           # why it is skipped before reading (not a notebook...)
    unsafe: bool = False


def _utc(ts: float | tuple) -> dt.datetime:
    if isinstance(ts, tuple):
        return dt.datetime(*ts, tzinfo=dt.timezone.utc)
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc)


def _tree_items(course: Course, path: Path) -> list[Incoming]:
    items = []
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        rel = f.relative_to(path)
        if f.suffix != ".ipynb" or len(rel.parts) != 3:
            if f.name not in ("timestamp.txt", META_NAME):
                items.append(Incoming(str(f), None, None, "", None, None, "",
                                      problem="not a <student>/<lab>/<notebook>.ipynb file"))
            continue
        student, lab = rel.parts[0], rel.parts[1]
        stamp, source = _utc(f.stat().st_mtime), "file modification time"
        given = f.parent / "timestamp.txt"
        if given.is_file():
            from nbgrader.utils import parse_utc
            try:
                stamp, source = parse_utc(given.read_text().strip()), "timestamp.txt"
            except ValueError:
                pass
        problem = "" if lab in course.labs() and f.stem in course.notebooks(lab) else \
            f"{lab}/{f.name} is not a notebook of any lab"
        items.append(Incoming(str(f), student, lab, f.stem, f.read_bytes, stamp, source, problem=problem))
    return items


def _zip_items(zf: zipfile.ZipFile, index: dict[str, str], by_lms: dict[str, str]) -> list[Incoming]:
    items = []
    for info in zf.infolist():
        if info.is_dir():
            continue
        name = info.filename
        if PurePosixPath(name).is_absolute() or ".." in PurePosixPath(name).parts:
            items.append(Incoming(name, None, None, "", None, None, "", problem="unsafe path in zip",
                                  unsafe=True))
            continue
        student, stem, late = _student_and_notebook(name, by_lms)
        if student is None:
            why = ("file name matches no Canvas, Moodle or <student>/<lab>/<notebook>.ipynb pattern"
                   if name.endswith(".ipynb") else "not a notebook")
            items.append(Incoming(name, None, None, "", None, None, "", problem=why))
            continue
        if stem not in index:
            stem = RESUBMISSION.sub("", stem)
        lab = index.get(stem)
        items.append(Incoming(name, student, lab, stem, lambda info=info: zf.read(info),
                              _utc(info.date_time), "zip entry time", late,
                              problem="" if lab else f"{stem}.ipynb is not a notebook of any lab"))
    return items


def _store(course: Course, item: Incoming, roster: dict) -> list[Path]:
    if item.unsafe:
        raise SubmissionError(f"{item.origin} has an unsafe path (absolute or with '..') and was "
                              "not extracted", item)
    if item.problem:
        raise batch.Skip(item.problem)
    if not STUDENT_ID.match(item.student):
        raise SubmissionError(f"{item.student!r} is not a valid student id (letters, digits and "
                              "_ . @ + - only, starting with a letter or digit); rename it and "
                              "collect again", item)
    if roster and item.student not in roster:
        raise SubmissionError(f"student {item.student!r} is not in the roster; add them to "
                              "roster.csv (or map their LMS id) and collect again", item)
    data = item.read()
    target = course.submitted(item.lab, item.student, item.notebook)
    meta = {"late": item.late, "timestamp": item.timestamp.isoformat() if item.timestamp else None,
            "timestamp_source": item.timestamp_source, "origin": item.origin}
    meta_path = target.parent / META_NAME
    if target.is_file() and target.read_bytes() == data and _read_meta(meta_path) == meta:
        raise batch.Skip("already imported (unchanged)")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    stamp = target.parent / "timestamp.txt"
    if item.timestamp is not None:
        stamp.write_text(item.timestamp.strftime(TIMESTAMP_FORMAT) + "\n")
    meta_path.write_text(json.dumps(meta, indent=2, sort_keys=True))
    return [target]


def _read_meta(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def submission_meta(course: Course, lab: str, student: str) -> dict:
    """What collect recorded about a submission: late marker and timestamp (may be empty)."""
    return _read_meta(course.dir("submitted") / student / lab / META_NAME) or {}


def collect(course: Course, path: str | Path, roster: str | Path | None = None, *,
            progress: bool = False) -> CollectResult:
    """Import submissions from a folder tree or an LMS zip; optionally merge a roster."""
    path = Path(path)
    if not path.exists():
        raise CourseError(f"{path} does not exist (give a folder of submissions or an LMS zip)", path)
    rows = course.roster()
    if roster is not None:
        rows.update(read_roster(roster))
        course.write_roster(rows)
    by_lms = {r["lms_user_id"]: sid for sid, r in rows.items() if r.get("lms_user_id")}
    summary_path = course.dir("submitted") / f"collect{batch.SUMMARY_SUFFIX}"
    if path.is_dir():
        items = _tree_items(course, path)
        summary = batch.run("collect", items, lambda i: _store(course, i, rows),
                            name=lambda i: i.origin, summary_path=summary_path, progress=progress)
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            items = _zip_items(zf, _notebook_index(course), by_lms)
            summary = batch.run("collect", items, lambda i: _store(course, i, rows),
                                name=lambda i: i.origin, summary_path=summary_path, progress=progress)
    else:
        raise CourseError(f"{path} is neither a folder nor a zip file", path)
    result = CollectResult(summary=summary)
    for item, res in zip(items, summary.results):
        if res.status == "done":
            result.imported.append((item.student, item.lab, item.notebook))
        elif res.status == "failed":
            result.failed.append((item.origin, res.reason))
        elif res.reason != "already imported (unchanged).":
            result.skipped.append((item.origin, res.reason.rstrip(".")))
    return result


def _student_and_notebook(name: str, by_lms: dict[str, str]) -> tuple[str | None, str, bool]:
    base = PurePosixPath(name).name
    for pattern in (MOODLE, CANVAS):
        m = pattern.match(name) if pattern is MOODLE else pattern.match(base)
        if m:
            late = bool(m.groupdict().get("late"))
            return by_lms.get(m["lms"], m["lms"]), PurePosixPath(m["file"]).stem, late
    m = TREE.match(name)
    if m:
        return m["student"], PurePosixPath(m["file"]).stem, False
    return None, "", False
