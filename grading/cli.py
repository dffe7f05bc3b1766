"""``labchain-grade``: the instructor's grading commands, a thin layer over ``grading.api``.

Exit codes (also in ``--help`` and docs/grading.md): 0 every item done or skipped; 1 some
items failed (each reported with its reason; the rest are recorded, and a re-run retries the
failed ones); 2 usage or course error (one sentence on stderr); 3 an unexpected error in
labchain-grade itself (one sentence; ``LABCHAIN_DEBUG=1`` shows the traceback); 130
interrupted. nbgrader's and SQLAlchemy's warnings go to no terminal.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import warnings

from grading.errors import GradingError
from grading.options import AutogradeOptions

EXIT_OK, EXIT_SOME_FAILED, EXIT_ERROR, EXIT_BUG = 0, 1, 2, 3
EXIT_CODES = ("exit codes: 0 every item done or skipped; 1 some items failed (each is "
              "listed with its reason, the others are recorded; re-run to retry them); 2 usage "
              "or course error; 3 unexpected error in labchain-grade; 130 interrupted")


def _course_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--course", default=".", metavar="DIR",
                   help="course directory made by `init` (default: current directory)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="labchain-grade",
        description="Fast, sandboxed autograding of LabChain labs with nbgrader.",
        epilog=f"See docs/grading.md. Each class-wide step writes <step>-summary.json next to "
               f"its outputs. {EXIT_CODES}.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("init", help="create an nbgrader course directory from labs/")
    p.add_argument("course_dir", metavar="COURSE_DIR")
    p.add_argument("--labs-dir", default="labs", help="folder with one sub-folder per lab (default: labs)")
    p.add_argument("--lab", action="append", dest="labs", metavar="LAB", help="only this lab (repeatable)")
    p.add_argument("--db", metavar="URL", help="gradebook SQLAlchemy URL (default: SQLite "
                   "COURSE_DIR/gradebook.db), e.g. postgresql://user@host/db")
    p.add_argument("--copy", action="store_true", help="copy the labs instead of symlinking them")
    p.set_defaults(func=_init)

    p = sub.add_parser("generate", help="make student versions with nbgrader")
    _course_arg(p)
    p.add_argument("labs", nargs="*", metavar="LAB", help="labs to generate (default: all)")
    p.add_argument("--force", action="store_true", help="regenerate labs whose source did not change")
    p.add_argument("--lang", choices=["en", "zh-CN"], default="en",
                   help="language of the Markdown cells of the student version (default: en); code, "
                        "tests and points are the same in both")
    p.set_defaults(func=_generate)

    p = sub.add_parser("collect", help="import submissions from a folder tree or an LMS zip")
    _course_arg(p)
    p.add_argument("path", metavar="PATH", help="<student>/<lab>/<lab>.ipynb tree, or a Canvas/Moodle zip")
    p.add_argument("--roster", metavar="CSV", help="roster with id, first_name, last_name, email, "
                   "lms_user_id, sis_user_id, sis_login_id, section")
    p.set_defaults(func=_collect)

    p = sub.add_parser("autograde", help="grade every submission in parallel sandboxes",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="options (also settable in COURSE/grading.json):\n" + "\n".join(
                           f"  {n:<22} {d}  [default: {v}]" for n, v, d in AutogradeOptions.describe()))
    _course_arg(p)
    p.add_argument("labs", nargs="*", metavar="LAB", help="labs to grade (default: all)")
    p.add_argument("--workers", type=int, help="parallel sandboxes (default: one per CPU core)")
    p.add_argument("--sandbox", choices=["auto", "os", "container"], help="sandbox kind (default: auto)")
    p.add_argument("--limit", action="append", default=[], metavar="NAME=VALUE",
                   help="sandbox limit, e.g. --limit timeout_per_cell=10 (repeatable)")
    p.add_argument("--student", action="append", dest="students", metavar="ID", help="only this student")
    p.add_argument("--force", action="store_true", default=None, help="regrade graded submissions")
    p.add_argument("--allow-unsandboxed", action="store_true", default=None,
                   help="grade even when the OS sandbox cannot isolate kernels (not root); "
                        "the summary says so")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--queue", metavar="URL", help="run the notebooks on `labchain-grade worker` processes "
                   "listening on this Redis URL (redis://HOST:PORT/DB); --workers then counts their "
                   "sandboxes (default: all of them); see docs/grading-queue.md")
    p.add_argument("--visibility-timeout", type=float, metavar="SECONDS",
                   help="with --queue: the workers' --visibility-timeout (default: 600), from which "
                        "the wait for a task's result and its one resend are reckoned")
    p.set_defaults(func=_autograde)

    p = sub.add_parser("worker", help="execute notebooks for `autograde --queue URL` in warm sandboxes")
    p.add_argument("--queue", metavar="URL", required=True, help="Redis URL of the task queue")
    p.add_argument("--sandboxes", type=int, default=0, help="warm sandboxes (default: one per CPU core)")
    p.add_argument("--hide", action="append", default=[], metavar="PATH",
                   help="directory hidden from student code besides the coordinator's course "
                        "directory, if that exists here (repeatable)")
    p.add_argument("--name", help="worker name (default: labchain@HOSTNAME)")
    p.add_argument("--allow-unsandboxed", action="store_true",
                   help="honour a coordinator's --allow-unsandboxed (rlimits only, not root)")
    p.add_argument("--visibility-timeout", type=float, metavar="SECONDS",
                   help="seconds before the broker hands a dead worker's task to another "
                        "(default: 600; must exceed the longest task)")
    p.add_argument("--loglevel", default="WARNING", help="Celery log level (INFO logs every task)")
    p.set_defaults(func=_worker)

    p = sub.add_parser("checks", help="run a lab's live-chain checks and store them as grades")
    _course_arg(p)
    p.add_argument("lab", metavar="LAB")
    p.add_argument("--endpoints", metavar="CSV", help="student,rpc,... (default: COURSE/chain/LAB.csv)")
    p.set_defaults(func=_checks)

    p = sub.add_parser("feedback", help="per-student HTML feedback")
    _course_arg(p)
    p.add_argument("labs", nargs="*", metavar="LAB")
    p.add_argument("--show-hidden", action="store_true", help="include hidden tests and their errors")
    p.add_argument("--force", action="store_true", help="re-render pages that did not change")
    p.set_defaults(func=_feedback)

    p = sub.add_parser("export", help="grade file for an LMS plus a JSON report")
    _course_arg(p)
    p.add_argument("--format", choices=["canvas", "moodle", "csv"], default="csv")
    p.add_argument("--out", metavar="FILE", help="output file (default: COURSE/exports/grades-FORMAT.csv)")
    p.set_defaults(func=_export)

    p = sub.add_parser("publish", help="post scores to the LMS (LTI Advantage AGS, via the class server)")
    _course_arg(p)
    p.add_argument("labs", nargs="*", metavar="LAB")
    p.add_argument("--lti", action="store_true", required=True, help="publish with LTI 1.3 AGS (the only way)")
    p.add_argument("--hub-dir", metavar="DIR", default=os.environ.get("LABCHAIN_HUB_DIR", "var/hub"),
                   help="the class server's state folder: tool key, LMS users (default $LABCHAIN_HUB_DIR or var/hub)")
    p.add_argument("--lineitem", action="append", default=[], metavar="LAB=URL",
                   help="the LMS line item of LAB (default: the one of each student's launch)")
    p.set_defaults(func=_publish)

    p = sub.add_parser("report", help="PNG figures: score distribution per lab and per test cell")
    _course_arg(p)
    p.add_argument("--out", metavar="DIR", help="output folder (default: COURSE/reports)")
    p.add_argument("--force", action="store_true", help="redraw figures whose scores did not change")
    p.set_defaults(func=_report)
    return parser


def _init(a) -> int:
    from grading import api
    course = api.init(a.course_dir, a.labs_dir, db_url=a.db, copy=a.copy, labs=a.labs)
    print(f"course {course.root}: labs {', '.join(course.labs())}; gradebook {course.db_url}")
    return EXIT_OK


def _summary(summary) -> int:
    """Print a step's summary table; its exit code."""
    print(summary.table())
    return summary.exit_code


def _generate(a) -> int:
    from grading import api
    summary = api.generate(a.course, a.labs or None, force=a.force, lang=a.lang)
    for r in summary.results:
        if r.status == "done":
            print(f"generated {r.item}")
    return _summary(summary)


def _collect(a) -> int:
    from grading import api
    result = api.collect(a.course, a.path, roster=a.roster)
    unchanged = result.summary.counts()["skipped"] - len(result.skipped)
    print(f"imported {len(result.imported)} notebook(s) from "
          f"{len({s for s, _, _ in result.imported})} student(s); already imported {unchanged}; "
          f"skipped {len(result.skipped)}; failed {len(result.failed)}")
    return _summary(result.summary)


def _parse_limits(pairs: list[str]) -> dict | None:
    limits = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise GradingError(f"--limit {pair!r} must look like NAME=VALUE")
        try:
            limits[name] = json.loads(value)
        except json.JSONDecodeError:
            raise GradingError(f"--limit {pair!r}: {value!r} is not a number") from None
    return limits or None


def _autograde(a) -> int:
    from grading import api
    summary = api.autograde(a.course, a.labs or None, workers=a.workers, sandbox=a.sandbox,
                            limits=_parse_limits(a.limit), force=a.force, students=a.students,
                            allow_unsandboxed=a.allow_unsandboxed, progress=not a.no_progress,
                            queue=a.queue, visibility_timeout=a.visibility_timeout)
    for o in summary.outcomes:
        if o.status == "failed" or o.flags:
            print(f"  {o.lab}/{o.student}: {o.status} {','.join(sorted(o.flags))} {o.message[:200]}")
    print(summary.table())
    print(f"summary    {a.course}/autograded/autograde-summary.json")
    return EXIT_SOME_FAILED if summary.counts()["failed"] else EXIT_OK


def _worker(a) -> int:
    from grading import api
    return api.worker(a.queue, sandboxes=a.sandboxes, hide_paths=a.hide, name=a.name,
                      allow_unsandboxed=a.allow_unsandboxed, visibility_timeout=a.visibility_timeout,
                      loglevel=a.loglevel)


def _checks(a) -> int:
    from grading import api
    results = api.run_checks(a.course, a.lab, a.endpoints)
    for student, res in results.items():
        for grade_id, (passed, sentence) in res.items():
            print(f"{student} {grade_id}: {'PASS' if passed else 'FAIL'} {sentence}")
    return EXIT_OK


def _feedback(a) -> int:
    from grading import api
    summary = api.feedback(a.course, a.labs or None, show_hidden=a.show_hidden, force=a.force)
    return _summary(summary)


def _export(a) -> int:
    from grading import api
    out, report, summary = api.export(a.course, a.format, a.out)
    print(f"wrote {out} and {report}")
    return _summary(summary)


def _publish(a) -> int:
    from grading import api
    lineitems = {}
    for pair in a.lineitem:
        lab, sep, url = pair.partition("=")
        if not sep or not lab or not url:
            raise GradingError(f"--lineitem {pair!r} must be LAB=URL")
        lineitems[lab] = url
    return _summary(api.publish_lti(a.course, a.hub_dir, a.labs or None, lineitems))


def _report(a) -> int:
    from grading import api
    summary = api.report(a.course, a.out, force=a.force)
    for r in summary.results:
        for path in r.outputs if r.status == "done" else ():
            print(f"wrote {path}")
    return _summary(summary)


def _quiet_library_warnings() -> None:
    """nbgrader's SQLAlchemy models warn on every gradebook open: not the user's business."""
    for module in (r"sqlalchemy(\..*)?", r"nbgrader(\..*)?", r"traitlets(\..*)?"):
        warnings.filterwarnings("ignore", module=module)
    warnings.filterwarnings("ignore", message=r".*(relationship|SAWarning|declarative_base).*")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not sys.warnoptions:
        _quiet_library_warnings()
    try:
        return args.func(args)
    except GradingError as exc:
        print(f"labchain-grade: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:         # a path that cannot be read or written
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        print(f"labchain-grade: error: {exc.strerror or exc}{where}.", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # noqa: BLE001 - a sentence, not a traceback
        if os.environ.get("LABCHAIN_DEBUG") == "1":
            raise
        print(f"labchain-grade: unexpected error ({type(exc).__name__}: {exc}); set "
              f"LABCHAIN_DEBUG=1 to see the traceback and please report it.", file=sys.stderr)
        return EXIT_BUG
    except KeyboardInterrupt:
        print("labchain-grade: interrupted; graded submissions are kept, re-run to resume",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
