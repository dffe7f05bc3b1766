"""Parallel, sandboxed, resumable autograding of every submission of a lab.

Threads, not processes, in the parent: the work that matters runs in the sandboxes.

- ``2 x workers`` threads share one ``grading.sandbox`` executor with ``workers`` warm
  sandboxes (the course directory hidden from them) and take (lab, student) jobs: read,
  sanitize, execute, post-process. Twice as many threads as sandboxes, so a sandbox never
  waits while its thread sanitizes the next notebook or waits for the writer.
- ONE writer thread owns the gradebook connection and saves each submission's grades, its
  autograded notebook and its ``labchain_autograde`` row atomically (submissions queued
  together share one commit). Sandboxed code never writes the gradebook; no two threads
  ever write it at once.
- What the gradebook says about the instructor's notebooks is read once per run
  (``grading.instructor``), not once per submission.
- A submission with a ``labchain_autograde`` row is skipped on the next run (unless
  ``force``), so killing a run and starting it again grades each submission exactly once.
- Each submission logs to ``COURSE/logs/<lab>/<student>.log``.
- The grader threads are a ``grading.batch`` run (one item per ``lab/student``); the
  summary is also written as ``COURSE/autograded/autograde-summary.json``. A submission
  whose completion row exists but whose gradebook submission is missing is graded again.
- The submission's timestamp is ``timestamp.txt`` beside it (written by ``collect``, as
  nbgrader's exchange does), stored in the gradebook like ``nbgrader autograde`` does.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import queue
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

import nbformat

from grading import batch
from grading.checks import load_checks
from grading.course import Course
from grading.errors import CourseError, SubmissionError
from grading.gradebook import done_rows, gradebook, record_done
from grading.instructor import InstructorNotebook
from grading.options import AutogradeOptions
from grading.pipeline import Context, DeferredCommits, SaveGrades, run_steps, steps

#: grader threads per sandbox: sanitizing and saving a submission overlap another's execution
PREPARE_AHEAD = 2

#: (options, workers, hide_paths) -> an executor with ``run(nb, resources)``, ``kind``, ``close()``
ExecutorFactory = Callable[[AutogradeOptions, int, list[str]], object]


@dataclass
class Outcome:
    """What happened to one submission (one row of the summary)."""

    lab: str
    student: str
    status: str = "graded"            # graded | failed | skipped
    flags: set[str] = field(default_factory=set)
    score: float = 0.0
    max_score: float = 0.0
    seconds: float = 0.0
    message: str = ""


@dataclass
class Summary:
    sandbox: str
    outcomes: list[Outcome] = field(default_factory=list)
    wall_seconds: float = 0.0
    unsandboxed: str = ""   # why kernels were NOT isolated (--allow-unsandboxed), or ""

    def counts(self) -> dict[str, int]:
        c = Counter(o.status for o in self.outcomes)
        flags = Counter(f for o in self.outcomes for f in o.flags)
        return {"graded": c["graded"], "failed": c["failed"], "skipped": c["skipped"],
                "timed out": flags["timeout"], "crashed": flags["crashed"],
                "tampered": flags["tampered"]}

    def as_batch(self) -> batch.BatchSummary:
        """The summary as a ``grading.batch`` summary (graded -> done), for the JSON file."""
        results = [batch.ItemResult(f"{o.lab}/{o.student}", "done" if o.status == "graded" else o.status,
                                    o.message if o.status != "graded" else "",
                                    detail={"score": o.score, "max_score": o.max_score,
                                            "flags": sorted(o.flags), "seconds": round(o.seconds, 3),
                                            "message": o.message})
                   for o in self.outcomes]
        return batch.BatchSummary("autograde", results, self.wall_seconds)

    def table(self) -> str:
        counts = self.counts()
        width = max(len(k) for k in counts)
        lines = [f"{k:<{width}}  {v:>5}" for k, v in counts.items()]
        lines.append(f"{'sandbox':<{width}}  {self.sandbox}")
        if self.unsandboxed:
            lines.append(f"{'WARNING':<{width}}  graded WITHOUT a sandbox: {self.unsandboxed}")
        lines.append(f"{'wall time':<{width}}  {self.wall_seconds:.1f} s")
        return "\n".join(lines)


def default_executor_factory(options: AutogradeOptions, workers: int, hide_paths: list[str]):
    """The ``grading.sandbox`` executor for a run: ``workers`` warm sandboxes, the course
    directory hidden from student code."""
    from grading.sandbox import make_executor

    return make_executor(kind=options.sandbox, workers=workers, limits=options.sandbox_limits(),
                         hide_paths=hide_paths, allow_unsandboxed=options.allow_unsandboxed)


def _submission_logger(course: Course, lab: str, student: str) -> logging.Logger:
    path = course.log_path(lab, student)
    path.parent.mkdir(parents=True, exist_ok=True)
    log = logging.getLogger(f"labchain.grading.{lab}.{student}")
    log.propagate = False
    log.setLevel(logging.INFO)
    for h in list(log.handlers):
        log.removeHandler(h)
        h.close()
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    return log


def _close_logger(log: logging.Logger) -> None:
    for h in list(log.handlers):
        log.removeHandler(h)
        h.close()


class _Writer(threading.Thread):
    """The only thread that writes the gradebook.

    Each submission's grades, autograded notebook and completion row form one unit: its
    nbgrader calls only flush (``DeferredCommits``) and the writer commits. Submissions that
    queue up while a commit runs are committed together (at most ``MAX_BATCH``), which saves
    a disk sync per submission and never delays one that is alone in the queue.
    """

    MAX_BATCH = 16

    def __init__(self, course: Course, run_id: str):
        super().__init__(name="gradebook-writer", daemon=True)
        self.course, self.run_id = course, run_id
        self.jobs: queue.Queue = queue.Queue()
        self.roster = course.roster()
        self.config = course.config()        # nbgrader_config.py, read once per run (late penalty)
        self.stopping = False

    def submit(self, item) -> "queue.Queue":
        done: queue.Queue = queue.Queue(maxsize=1)
        self.jobs.put((item, done))
        return done

    def run(self) -> None:
        try:
            gb_context = gradebook(self.course.db_url)
            gb = gb_context.__enter__()
        except Exception as exc:  # noqa: BLE001 - every waiting submission gets the reason
            while (job := self.jobs.get()) is not None:
                job[1].put(exc)
            return
        try:
            while batch := self._next_batch():
                self._save_batch(gb, batch)
        finally:
            gb_context.__exit__(None, None, None)

    def _next_batch(self) -> list:
        """The next job and every job already queued behind it (up to ``MAX_BATCH``);
        empty at the end of the run. Never waits for more jobs than are there."""
        if self.stopping or (job := self.jobs.get()) is None:
            return []
        batch = [job]
        while len(batch) < self.MAX_BATCH:
            try:
                job = self.jobs.get_nowait()
            except queue.Empty:
                break
            if job is None:
                self.stopping = True
                break
            batch.append(job)
        return batch

    def _save_batch(self, gb, batch: list) -> None:
        """Commit the submissions of ``batch`` in one transaction (group commit); if any of
        them fails, roll back and save each in a transaction of its own, so one bad
        submission costs only itself. A submission is reported saved only once committed.

        While saving, ``gb.db`` is a session whose ``commit()`` only flushes, so nbgrader's
        own commits (``update_or_create_student``, ``add_submission``, ``SaveAutoGrades``)
        join the writer's transaction instead of syncing the disk three times per submission.
        """
        session = gb.db
        gb.db = DeferredCommits.Session(session)
        try:
            if len(batch) > 1:
                try:
                    for (outcome, graded), _ in batch:
                        self._save(gb, outcome, graded)
                    session.commit()
                except Exception:  # noqa: BLE001 - retried one by one below
                    self._rollback(session)
                else:
                    for _, done in batch:
                        done.put(None)
                    return
            for (outcome, graded), done in batch:
                try:
                    self._save(gb, outcome, graded)
                    session.commit()
                    done.put(None)
                except Exception as exc:  # noqa: BLE001 - reported per submission, batch goes on
                    self._rollback(session)
                    done.put(exc)
        finally:
            gb.db = session

    @staticmethod
    def _rollback(session) -> None:
        """Roll back and forget every object the session holds. A rollback alone expires
        what it loaded but can leave an object created in the failed transaction in the
        identity map (seen in CI: a Student flushed in a failed group commit, still linked to
        its expunged submission); the next submission's nbgrader calls then met that object
        and failed with ``ObjectDeletedError`` although their own save was sound. After
        ``expunge_all`` every row is read again from the database."""
        session.rollback()
        session.expunge_all()

    def _student_fields(self, student: str) -> dict:
        row = self.roster.get(student, {})
        return {k: row[k] for k in ("first_name", "last_name", "email", "lms_user_id") if row.get(k)}

    def _save(self, gb, outcome: Outcome, graded: list[tuple[Context, nbformat.NotebookNode | None]]):
        """Write one submission (``gb``'s commits only flush); the caller commits."""
        gb.update_or_create_student(outcome.student, **self._student_fields(outcome.student))
        gb.update_or_create_submission(outcome.lab, outcome.student,
                                       **_timestamp(self.course, outcome.lab, outcome.student))
        for ctx, nb in graded:
            if nb is None:       # unreadable or ungradable: every grade cell scores zero
                for grade in gb.find_submission_notebook(ctx.notebook, ctx.lab, ctx.student).grades:
                    grade.auto_score = 0
                    grade.needs_manual_grade = False
                continue
            SaveGrades(config=self.config).save(nb, ctx, gb)
            out = self.course.autograded(ctx.lab, ctx.student, ctx.notebook)
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_suffix(".ipynb.tmp")
            nbformat.write(nb, str(tmp))
            os.replace(tmp, out)
        gb.db.flush()
        submission = gb.find_submission(outcome.lab, outcome.student)
        outcome.score, outcome.max_score = float(submission.score), float(submission.max_score)
        record_done(gb, {
            "lab": outcome.lab, "student": outcome.student, "status": outcome.status,
            "flags": ",".join(sorted(outcome.flags)), "score": outcome.score,
            "max_score": outcome.max_score,
            "sandbox": getattr(graded[0][0].executor, "kind", "?") if graded else "?", "seconds": outcome.seconds,
            "message": outcome.message[:2000], "run_id": self.run_id,
            "graded_at": dt.datetime.now(dt.timezone.utc).isoformat(),
        })


def _check_generated(course: Course, lab: str) -> None:
    for notebook in course.notebooks(lab):
        if not course.release(lab, notebook).is_file():
            raise CourseError(f"lab {lab!r} has no student version yet; run `labchain-grade generate {lab}`", lab)


def autograde(course: Course, labs: list[str] | None = None, *, options: AutogradeOptions | None = None,
              students: list[str] | None = None, executor_factory: ExecutorFactory | None = None,
              progress: bool = True) -> Summary:
    """Grade every submission of ``labs`` (all labs by default); returns the summary."""
    options = options or AutogradeOptions()
    factory = executor_factory or default_executor_factory
    labs = labs or course.labs()
    unknown = set(labs) - set(course.labs())
    if unknown:
        raise CourseError(f"no lab named {', '.join(sorted(unknown))} in {course.root / 'source'}", unknown)
    for lab in labs:
        _check_generated(course, lab)
    with gradebook(course.db_url) as gb:
        done = done_rows(gb)
        in_gradebook = _gradebook_submissions(gb)
        instructors = _instructor_notebooks(gb, course, labs)
    jobs, skipped = [], []
    for lab in labs:
        for student in course.submissions(lab):
            if students and student not in students:
                continue
            row = done.get((lab, student))
            if row and row["status"] == "graded" and (lab, student) in in_gradebook and not options.force:
                skipped.append(Outcome(lab, student, status="skipped", score=row["score"] or 0.0,
                                       max_score=row["max_score"] or 0.0,
                                       flags=set(filter(None, (row["flags"] or "").split(",")))))
            else:
                jobs.append((lab, student))
    releases = {(lab, nb_id): nbformat.read(str(course.release(lab, nb_id)), as_version=4)
                for lab in labs for nb_id in course.notebooks(lab)}
    workers = options.workers or os.cpu_count() or 1
    workers = max(1, min(workers, len(jobs) or 1))
    lab_files = {lab: _lab_files(course, lab) for lab in labs}
    check_cells = {lab: _check_cells(course, lab) for lab in labs}
    run_id = uuid.uuid4().hex
    start = time.monotonic()

    def grade(job):
        lab, student = job
        log = _submission_logger(course, lab, student)
        outcome = Outcome(lab, student)
        t0 = time.monotonic()
        try:
            log.info("start lab=%s student=%s run=%s", lab, student, run_id)
            graded = []
            for nb_id in course.notebooks(lab):
                ctx = Context(lab=lab, student=student, notebook=nb_id, db_url=course.db_url,
                              release=releases[(lab, nb_id)], options=options, log=log, executor=executor,
                              files=lab_files[lab], check_cells=check_cells[lab].get(nb_id, frozenset()),
                              instructor=instructors.get((lab, nb_id)))
                graded.append((ctx, _grade_notebook(course, ctx)))
                outcome.flags |= ctx.flags
                if graded[-1][1] is None:
                    outcome.status = "failed"
                    outcome.message = "; ".join(ctx.problems)
                elif ctx.problems:
                    outcome.message = "; ".join(filter(None, [outcome.message, *ctx.problems]))
            # the submission's own time: queueing for a free sandbox is not counted
            outcome.seconds = time.monotonic() - t0 - sum(ctx.exec_waited for ctx, _ in graded)
            error = writer.submit((outcome, graded)).get()
            if error is not None:
                raise SubmissionError(f"could not save grades: {error}", error)
            log.info("recorded status=%s score=%s/%s flags=%s", outcome.status, outcome.score,
                     outcome.max_score, ",".join(sorted(outcome.flags)) or "-")
        except Exception as exc:  # noqa: BLE001 - one bad submission never stops the batch
            outcome.status, outcome.message = "failed", f"{type(exc).__name__}: {exc}"
            log.exception("failed: %s", exc)
        finally:
            _close_logger(log)
        return outcome

    summary = Summary(sandbox="none")
    summary_path = course.dir("autograded") / f"autograde{batch.SUMMARY_SUFFIX}"
    if not jobs:
        summary.outcomes.extend(skipped)
        summary.sandbox = "none (nothing to grade)"
        summary.as_batch().write(summary_path)
        return summary
    executor = factory(options, workers, [str(course.root)])
    writer = _Writer(course, run_id)
    writer.start()
    try:
        # twice as many grader threads as sandboxes: while one thread's notebook executes,
        # another sanitizes the next one or waits for its save, so no sandbox idles on them
        threads = min(len(jobs), PREPARE_AHEAD * workers)

        def work(job):
            outcome = grade(job)      # never raises: a failure is the outcome's status
            summary.outcomes.append(outcome)

        batch.run("autograde", jobs, work, name=lambda j: f"{j[0]}/{j[1]}", workers=threads,
                  progress=progress)
    finally:
        writer.jobs.put(None)
        writer.join()
        close = getattr(executor, "close", None)
        if close:
            close()
    summary.sandbox = getattr(executor, "kind", "?")
    summary.unsandboxed = getattr(executor, "unsandboxed", "")
    summary.outcomes.extend(skipped)
    summary.outcomes.sort(key=lambda o: (o.lab, o.student))
    summary.wall_seconds = time.monotonic() - start
    summary.as_batch().write(summary_path)
    return summary


def _gradebook_submissions(gb) -> set[tuple[str, str]]:
    """(lab, student) of every submission the gradebook holds."""
    from nbgrader.api import Assignment, Student, SubmittedAssignment

    rows = (gb.db.query(Assignment.name, Student.id).select_from(SubmittedAssignment)
            .join(Assignment, SubmittedAssignment.assignment_id == Assignment.id)
            .join(Student, SubmittedAssignment.student_id == Student.id).all())
    gb.db.rollback()
    return {(lab, student) for lab, student in rows}


def _timestamp(course: Course, lab: str, student: str) -> dict:
    """``{"timestamp": datetime}`` from the submission's nbgrader ``timestamp.txt``, if any."""
    from nbgrader.utils import parse_utc

    path = course.dir("submitted") / student / lab / "timestamp.txt"
    try:
        return {"timestamp": parse_utc(path.read_text().strip())}
    except (OSError, ValueError):
        return {}


def _instructor_notebooks(gb, course: Course, labs: list[str]) -> dict[tuple[str, str], InstructorNotebook]:
    """The gradebook's record of every notebook, read once per run (see grading.instructor).
    A notebook the gradebook lacks is left out: each of its submissions then fails with the
    reason, as before."""
    snapshots = {}
    for lab in labs:
        for nb_id in course.notebooks(lab):
            try:
                snapshots[(lab, nb_id)] = InstructorNotebook.load(gb, nb_id, lab)
            except Exception:  # noqa: BLE001 - reported per submission by the pipeline
                gb.db.rollback()
    return snapshots


def _lab_files(course: Course, lab: str) -> dict[str, bytes]:
    """The lab's data files students also got (release folder, notebooks excluded)."""
    root = course.dir("release") / lab
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.suffix != ".ipynb" and ".ipynb_checkpoints" not in p.parts}


def _check_cells(course: Course, lab: str) -> dict[str, frozenset]:
    """{notebook: grade ids} that the lab's live-chain checks score (grading.checks)."""
    notebook, declared = load_checks(course.dir("source") / lab)
    return {notebook: frozenset(c.grade_id for c in declared)}


def _grade_notebook(course: Course, ctx: Context):
    """Sanitize and execute one notebook; ``None`` when it cannot be graded at all."""
    path = course.submitted(ctx.lab, ctx.student, ctx.notebook)
    if not path.is_file():
        ctx.flag("missing", f"no file {path.name} in the submission")
        return None
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the student's problem
        ctx.flag("unreadable", f"{path.name} is not a readable notebook ({type(exc).__name__}: {exc})")
        return None
    try:
        return run_steps(nb, ctx, steps(ctx.options))
    except Exception as exc:  # noqa: BLE001
        if ctx.executor is not None and ctx.exec_status == "":
            ctx.flag("invalid", f"{path.name} could not be prepared for grading "
                     f"({type(exc).__name__}: {exc})")
            return None
        raise
