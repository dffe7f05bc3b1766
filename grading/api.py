"""The Python API behind every ``labchain-grade`` command (one function per command).

    from grading import api
    course = api.init("course", labs_dir="labs")          # nbgrader course dir, SQLite gradebook
    api.generate(course)                                  # student versions (nbgrader)
    api.collect(course, "submissions.zip", roster="roster.csv")
    summary = api.autograde(course, ["01-hashes-merkle"], workers=2)
    print(summary.table())
    api.feedback(course); api.export(course, "canvas"); api.report(course)

Every function takes a :class:`grading.course.Course` (or a path to one) and raises a
:class:`grading.errors.GradingError` subclass with a clear sentence when something is wrong
with the course or the command. Class-wide steps (generate, collect, autograde, feedback,
export, report) process their items one at a time through ``grading.batch``: one item's
failure is recorded in the step's summary (returned, and written as ``<step>-summary.json``
next to the outputs), never raised.
"""
from __future__ import annotations

import os
from pathlib import Path

from grading import batch
from grading import checks as _checks
from grading.autograde import ExecutorFactory, Summary
from grading.autograde import autograde as _autograde
from grading.collect import CollectResult
from grading.collect import collect as _collect
from grading.course import Course, init_course
from grading.errors import CourseError
from grading.export import export as _export
from grading.feedback import generate_feedback
from grading.gradebook import gradebook
from grading.options import AutogradeOptions
from grading.report import make_report

CourseLike = Course | str | os.PathLike


def _course(course: CourseLike) -> Course:
    return course if isinstance(course, Course) else Course.open(course)


def init(course_dir: str | os.PathLike, labs_dir: str | os.PathLike = "labs", *,
         db_url: str | None = None, copy: bool = False, labs: list[str] | None = None) -> Course:
    """Create an nbgrader course directory whose ``source/`` holds the labs; open its gradebook."""
    course = init_course(course_dir, labs_dir, db_url=db_url, copy=copy, labs=labs)
    try:
        with gradebook(course.db_url) as gb:
            if gb.engine.dialect.name == "sqlite":   # readers never block the one writer
                with gb.engine.connect() as conn:
                    conn.exec_driver_sql("PRAGMA journal_mode=WAL")
    except Exception as exc:  # noqa: BLE001 - bad URL, server down, driver missing
        raise CourseError(f"cannot open the gradebook at {course.db_url}: {exc}", course.db_url) from exc
    return course


def _known_labs(course: Course, labs: list[str] | None) -> list[str]:
    return course.select_labs(labs)


def _nbgrader_reason(result: dict) -> str:
    """The line of nbgrader's log or error that says what went wrong."""
    text = f"{result.get('error') or ''}\n{result.get('log') or ''}"
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if ("Error" in ln or "error" in ln) and not ln.startswith(("[", "Traceback", "File ")):
            return ln
    return lines[-1] if lines else "nbgrader gave no reason"


def generate(course: CourseLike, labs: list[str] | None = None, *, force: bool = False,
             lang: str = "en") -> batch.BatchSummary:
    """Student versions of ``labs`` (all by default) in ``release/`` via nbgrader's API, one
    lab at a time (summary ``release/generate-summary.json``); a lab whose source did not
    change since it was last generated is skipped. ``lang="zh-CN"`` puts the Markdown cells in
    Chinese from ``source/<lab>/i18n/zh-CN.yaml`` (code, tests, points unchanged; docs/labs.md)."""
    from nbgrader.apps.api import NbGraderAPI

    from labchain.i18n import catalog as i18n_catalog, normalize_language

    from grading.gradebook import _alembic_on_path

    course = _course(course)
    labs = _known_labs(course, labs)
    lang = normalize_language(lang)
    _alembic_on_path()
    nbapi = NbGraderAPI(coursedir=course.coursedir())

    def sources(lab):
        root = course.dir("source") / lab
        return sorted(p for p in root.rglob("*") if p.is_file() and ".ipynb_checkpoints" not in p.parts)

    def one(lab):
        result = nbapi.generate_assignment(lab)
        if not result["success"]:
            raise CourseError(f"nbgrader could not generate {lab}: {_nbgrader_reason(result)}", lab)
        i18n_catalog.localize_release(course.dir("source") / lab, course.dir("release") / lab, lang)
        return [course.release(lab, nb) for nb in course.notebooks(lab)]

    return batch.run("generate", labs, one, force=force,
                     fingerprint=lambda lab: batch.file_digest(*sources(lab),
                                                               extra="" if lang == "en" else lang),
                     summary_path=course.dir("release") / f"generate{batch.SUMMARY_SUFFIX}")


def collect(course: CourseLike, path: str | os.PathLike, roster: str | os.PathLike | None = None) -> CollectResult:
    """Import submissions from a folder tree or an LMS zip (see ``grading.collect``); the
    roster's names and LMS ids also go to the gradebook, so formgrader shows them."""
    course = _course(course)
    result = _collect(course, path, roster)
    if roster is not None:
        fields = ("first_name", "last_name", "email", "lms_user_id")
        with gradebook(course.db_url) as gb:
            for sid, row in course.roster().items():
                gb.update_or_create_student(sid, **{k: row[k] for k in fields if row.get(k)})
    return result


def autograde(course: CourseLike, labs: list[str] | None = None, *,
              executor_factory: ExecutorFactory | None = None, progress: bool = False,
              students: list[str] | None = None, queue: str | None = None,
              visibility_timeout: float | None = None, **options) -> Summary:
    """Grade every submission (see ``grading.autograde``); ``options`` as in AutogradeOptions.
    ``queue``: a Redis URL; the notebooks run on ``labchain-grade worker`` processes listening
    there (``grading.queue``), ``workers`` defaulting to all their sandboxes;
    ``visibility_timeout``: the workers' (default ``grading.queue.app.VISIBILITY_TIMEOUT``)."""
    course = _course(course)
    opts = AutogradeOptions.load(course.root, **options)
    if queue:
        import dataclasses

        from grading.queue import coordinator
        if not opts.workers:
            opts = dataclasses.replace(opts, workers=coordinator.remote_sandboxes(queue))
        executor_factory = coordinator.executor_factory(
            queue, visibility_timeout=visibility_timeout or coordinator.VISIBILITY_TIMEOUT)
    return _autograde(course, labs, options=opts, students=students,
                      executor_factory=executor_factory, progress=progress)


def worker(queue: str, *, sandboxes: int = 0, hide_paths: list[str] = (), name: str | None = None,
           allow_unsandboxed: bool = False, visibility_timeout: float | None = None,
           loglevel: str = "WARNING") -> int:
    """Serve the queue at ``queue`` (a Redis URL) with ``sandboxes`` warm sandboxes until
    stopped (``grading.queue.worker``)."""
    from grading.queue import app as queue_app
    from grading.queue.worker import run_worker
    return run_worker(queue, sandboxes=sandboxes, hide_paths=list(hide_paths), name=name,
                      allow_unsandboxed=allow_unsandboxed,
                      visibility_timeout=visibility_timeout or queue_app.VISIBILITY_TIMEOUT, loglevel=loglevel)


def run_checks(course: CourseLike, lab: str, endpoints: str | os.PathLike | None = None) -> dict[str, dict]:
    """Run the lab's live-chain checks for every student in the endpoints file; store grades.

    Returns ``{student: {grade_id: (passed, sentence)}}``.
    """
    course = _course(course)
    _known_labs(course, [lab])
    notebook, declared = _checks.load_checks(course.dir("source") / lab)
    if not declared:
        raise CourseError(f"lab {lab} declares no live-chain checks (no checks.yaml)", lab)
    students = _checks.read_endpoints(endpoints or course.root / "chain" / f"{lab}.csv")
    results: dict[str, dict] = {}
    with gradebook(course.db_url) as gb:
        for student, row in sorted(students.items()):
            client = _checks.RpcClient(row["rpc"])
            results[student] = {c.grade_id: c.run(client, row) for c in declared}
            _checks.store_results(gb, lab, notebook, student, results[student])
    return results


def feedback(course: CourseLike, labs: list[str] | None = None, *, show_hidden: bool = False,
             students: list[str] | None = None, force: bool = False) -> batch.BatchSummary:
    """Per-student HTML feedback; hidden test details withheld unless ``show_hidden``.
    Items ``<lab>/<student>``; unchanged ones are skipped unless ``force``."""
    return generate_feedback(_course(course), labs, show_hidden=show_hidden, students=students,
                             force=force)


def export(course: CourseLike, fmt: str = "csv",
           out: str | os.PathLike | None = None) -> tuple[Path, Path, batch.BatchSummary]:
    """Grade file for ``canvas``, ``moodle`` or ``csv``, a JSON report and the batch summary
    (one item per student)."""
    return _export(_course(course), fmt, out)


def publish_lti(course: CourseLike, hub_dir: str | os.PathLike, labs: list[str] | None = None,
                lineitems: dict[str, str] | None = None) -> batch.BatchSummary:
    """Post each student's score to the LMS line item with LTI AGS (one item per lab/student;
    grading/publish.py, docs/hub.md)."""
    from grading.publish import publish_lti as _publish

    return _publish(_course(course), hub_dir, labs, lineitems)


def report(course: CourseLike, out_dir: str | os.PathLike | None = None, *,
           force: bool = False) -> batch.BatchSummary:
    """PNG figures per lab: score distribution and points per grade cell (one item per lab;
    each done item's ``outputs`` are its figures)."""
    return make_report(_course(course), out_dir, force=force)
