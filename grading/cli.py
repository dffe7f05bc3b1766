"""``labchain-grade``: the instructor's grading commands, a thin layer over ``grading.api``.

Exit codes: 0 success; 1 some submissions failed to grade (the rest are recorded);
2 usage or course error (message on stderr).
"""
from __future__ import annotations

import argparse
import json
import sys

from grading.errors import GradingError
from grading.options import AutogradeOptions

EXIT_OK, EXIT_SOME_FAILED, EXIT_ERROR = 0, 1, 2


def _course_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--course", default=".", metavar="DIR",
                   help="course directory made by `init` (default: current directory)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="labchain-grade",
        description="Fast, sandboxed autograding of LabChain labs with nbgrader.",
        epilog="See docs/grading.md. Exit codes: 0 ok, 1 some submissions failed, 2 error.")
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
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_autograde)

    p = sub.add_parser("checks", help="run a lab's live-chain checks and store them as grades")
    _course_arg(p)
    p.add_argument("lab", metavar="LAB")
    p.add_argument("--endpoints", metavar="CSV", help="student,rpc,... (default: COURSE/chain/LAB.csv)")
    p.set_defaults(func=_checks)

    p = sub.add_parser("feedback", help="per-student HTML feedback")
    _course_arg(p)
    p.add_argument("labs", nargs="*", metavar="LAB")
    p.add_argument("--show-hidden", action="store_true", help="include hidden tests and their errors")
    p.set_defaults(func=_feedback)

    p = sub.add_parser("export", help="grade file for an LMS plus a JSON report")
    _course_arg(p)
    p.add_argument("--format", choices=["canvas", "moodle", "csv"], default="csv")
    p.add_argument("--out", metavar="FILE", help="output file (default: COURSE/exports/grades-FORMAT.csv)")
    p.set_defaults(func=_export)

    p = sub.add_parser("report", help="PNG figures: score distribution per lab and per test cell")
    _course_arg(p)
    p.add_argument("--out", metavar="DIR", help="output folder (default: COURSE/reports)")
    p.set_defaults(func=_report)
    return parser


def _init(a) -> int:
    from grading import api
    course = api.init(a.course_dir, a.labs_dir, db_url=a.db, copy=a.copy, labs=a.labs)
    print(f"course {course.root}: labs {', '.join(course.labs())}; gradebook {course.db_url}")
    return EXIT_OK


def _generate(a) -> int:
    from grading import api
    for lab in api.generate(a.course, a.labs or None):
        print(f"generated {lab}")
    return EXIT_OK


def _collect(a) -> int:
    from grading import api
    result = api.collect(a.course, a.path, roster=a.roster)
    for origin, why in result.skipped:
        print(f"skipped {origin}: {why}", file=sys.stderr)
    print(f"imported {len(result.imported)} notebook(s) from "
          f"{len({s for s, _, _ in result.imported})} student(s); skipped {len(result.skipped)}")
    return EXIT_OK


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
                            progress=not a.no_progress)
    for o in summary.outcomes:
        if o.status == "failed" or o.flags:
            print(f"  {o.lab}/{o.student}: {o.status} {','.join(sorted(o.flags))} {o.message[:200]}")
    print(summary.table())
    return EXIT_SOME_FAILED if summary.counts()["failed"] else EXIT_OK


def _checks(a) -> int:
    from grading import api
    results = api.run_checks(a.course, a.lab, a.endpoints)
    for student, res in results.items():
        for grade_id, (passed, sentence) in res.items():
            print(f"{student} {grade_id}: {'PASS' if passed else 'FAIL'} {sentence}")
    return EXIT_OK


def _feedback(a) -> int:
    from grading import api
    done = api.feedback(a.course, a.labs or None, show_hidden=a.show_hidden)
    for lab, students in done.items():
        print(f"{lab}: feedback for {len(students)} student(s)")
    return EXIT_OK


def _export(a) -> int:
    from grading import api
    out, report = api.export(a.course, a.format, a.out)
    print(f"wrote {out} and {report}")
    return EXIT_OK


def _report(a) -> int:
    from grading import api
    for path in api.report(a.course, a.out):
        print(f"wrote {path}")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except GradingError as exc:
        print(f"labchain-grade: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("labchain-grade: interrupted; graded submissions are kept, re-run to resume",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
