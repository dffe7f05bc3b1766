"""The nbgrader course directory LabChain grades in, and its gradebook URL.

Layout (nbgrader's own, so formgrader and nbgrader's commands keep working)::

    COURSE/nbgrader_config.py       course id, gradebook URL
    COURSE/source/<lab>/            linked (or copied) from the repository's labs/<lab>/
    COURSE/release/<lab>/           student versions (``generate``)
    COURSE/submitted/<student>/<lab>/<lab>.ipynb   (``collect``)
    COURSE/autograded/<student>/<lab>/             (``autograde``)
    COURSE/feedback/<student>/<lab>/<lab>.html     (``feedback``)
    COURSE/roster.csv               names and LMS ids (``collect --roster``)
    COURSE/logs/<lab>/<student>.log one log per graded submission
    COURSE/exports/, COURSE/reports/

The gradebook is nbgrader's ``Gradebook`` on any SQLAlchemy URL; SQLite file
``COURSE/gradebook.db`` by default.
"""
from __future__ import annotations

import csv
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from traitlets.config.loader import PyFileConfigLoader

from grading.errors import CourseError

COURSE_ID = "labchain"
CONFIG_NAME = "nbgrader_config.py"
ROSTER_NAME = "roster.csv"
#: roster columns (``collect --roster``); only ``id`` is required
ROSTER_FIELDS = ("id", "first_name", "last_name", "email", "lms_user_id",
                 "sis_user_id", "sis_login_id", "section")

CONFIG_TEMPLATE = '''\
# nbgrader configuration written by `labchain-grade init`; nbgrader's own commands read it too.
import os

c = get_config()  # noqa: F821 (provided by traitlets when nbgrader loads this file)
_root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.root = _root
c.CourseDirectory.course_id = {course_id!r}
c.CourseDirectory.db_url = {db_expr}
'''


def normalize_db_url(db_url: str) -> str:
    """Pin the PostgreSQL driver that is installed: SQLAlchemy 2.1 maps a bare
    ``postgresql://`` to psycopg 3, our dev extras ship psycopg2-binary."""
    if db_url.startswith(("postgresql://", "postgres://")):
        import importlib.util
        if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2"):
            return "postgresql+psycopg2://" + db_url.split("://", 1)[1]
    return db_url


@dataclass(frozen=True, slots=True)
class Course:
    """A course directory on disk; cheap to create, reads its config when asked."""

    root: Path

    @classmethod
    def open(cls, root: str | os.PathLike) -> "Course":
        course = cls(Path(root).resolve())
        if not (course.root / CONFIG_NAME).is_file():
            raise CourseError(f"{course.root} is not a course directory (no {CONFIG_NAME}); "
                              "run `labchain-grade init` first", course.root)
        return course

    # -- configuration --------------------------------------------------------------------
    def config(self):
        loader = PyFileConfigLoader(CONFIG_NAME, path=str(self.root))
        return loader.load_config()

    @property
    def db_url(self) -> str:
        return str(self.config().CourseDirectory.db_url)

    def coursedir(self):
        """nbgrader's ``CourseDirectory`` for this course (for nbgrader's converters/API)."""
        from nbgrader.coursedir import CourseDirectory

        return CourseDirectory(config=self.config())

    # -- folders --------------------------------------------------------------------------
    def dir(self, kind: str) -> Path:
        return self.root / kind

    def labs(self) -> list[str]:
        src = self.dir("source")
        return sorted(p.name for p in src.iterdir() if p.is_dir() and any(p.glob("*.ipynb"))) \
            if src.is_dir() else []

    def select_labs(self, labs: list[str] | None = None) -> list[str]:
        """``labs`` (all labs when empty), or a CourseError naming the unknown ones."""
        known = self.labs()
        labs = list(labs or known)
        unknown = sorted(set(labs) - set(known))
        if unknown:
            raise CourseError(f"no lab named {', '.join(unknown)} in {self.root / 'source'} "
                              f"(labs: {', '.join(known) or 'none'})", unknown)
        return labs

    def notebooks(self, lab: str) -> list[str]:
        """Notebook ids (file stems) of a lab, from its source folder."""
        return sorted(p.stem for p in (self.dir("source") / lab).glob("*.ipynb"))

    def submitted(self, lab: str, student: str, notebook: str) -> Path:
        return self.dir("submitted") / student / lab / f"{notebook}.ipynb"

    def autograded(self, lab: str, student: str, notebook: str) -> Path:
        return self.dir("autograded") / student / lab / f"{notebook}.ipynb"

    def release(self, lab: str, notebook: str) -> Path:
        return self.dir("release") / lab / f"{notebook}.ipynb"

    def log_path(self, lab: str, student: str) -> Path:
        return self.dir("logs") / lab / f"{student}.log"

    def submissions(self, lab: str) -> list[str]:
        """Students who submitted ``lab`` (a folder ``submitted/<student>/<lab>/``)."""
        sub = self.dir("submitted")
        if not sub.is_dir():
            return []
        return sorted(p.name for p in sub.iterdir() if (p / lab).is_dir())

    # -- roster ---------------------------------------------------------------------------
    def roster(self) -> dict[str, dict[str, str]]:
        path = self.root / ROSTER_NAME
        if not path.is_file():
            return {}
        with path.open(newline="", encoding="utf-8") as fh:
            return {row["id"]: row for row in csv.DictReader(fh)}

    def write_roster(self, rows: dict[str, dict[str, str]]) -> None:
        path = self.root / ROSTER_NAME
        tmp = path.with_suffix(".tmp")
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=ROSTER_FIELDS, extrasaction="ignore")
            writer.writeheader()
            for sid in sorted(rows):
                writer.writerow({k: rows[sid].get(k, "") or "" for k in ROSTER_FIELDS})
        os.replace(tmp, path)


def init_course(root: str | os.PathLike, labs_dir: str | os.PathLike, *, db_url: str | None = None,
                copy: bool = False, labs: list[str] | None = None) -> Course:
    """Create (or refresh) a course directory whose ``source/`` comes from ``labs_dir``.

    Each lab folder ``labs_dir/<lab>/`` holding at least one ``.ipynb`` becomes
    ``source/<lab>`` (a symlink, or a copy with ``copy=True``). Idempotent.
    """
    root = Path(root).resolve()
    labs_dir = Path(labs_dir).resolve()
    if not labs_dir.is_dir():
        raise CourseError(f"labs folder {labs_dir} does not exist", labs_dir)
    found = sorted(p for p in labs_dir.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))
    if labs:
        missing = set(labs) - {p.name for p in found}
        if missing:
            raise CourseError(f"no lab named {', '.join(sorted(missing))} in {labs_dir}", missing)
        found = [p for p in found if p.name in labs]
    if not found:
        raise CourseError(f"{labs_dir} holds no lab (a folder with a .ipynb notebook)", labs_dir)
    root.mkdir(parents=True, exist_ok=True)
    if db_url is None:
        db_expr = 'f"sqlite:///{_root}/gradebook.db"'
    else:
        db_expr = repr(normalize_db_url(db_url))
    (root / CONFIG_NAME).write_text(CONFIG_TEMPLATE.format(course_id=COURSE_ID, db_expr=db_expr))
    source = root / "source"
    source.mkdir(exist_ok=True)
    for lab in found:
        target = source / lab.name
        if target.is_symlink() or target.is_file():
            target.unlink()
        elif target.is_dir():
            shutil.rmtree(target)
        if copy:
            shutil.copytree(lab, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        else:
            target.symlink_to(lab, target_is_directory=True)
    return Course(root)
