"""``labchain curriculum check|build|schema``: validate the course file, render the syllabus
(``build --lang zh-CN``: the Chinese one, ``SYLLABUS.zh-CN.md``).

Exit codes: 0 all good; 1 problems found (each printed as ``file:line: path: message``) or,
for ``build --check``, a stale SYLLABUS.md; 2 usage errors (argparse).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from labchain.curriculum.check import check_course
from labchain.curriculum.model import load_course
from labchain.curriculum.schema import describe
from labchain.curriculum.syllabus import render_syllabus

DEFAULT_COURSE = Path("curriculum/course.yaml")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("curriculum", help="check the course file and build the syllabus",
                                   description="Validate curriculum/course.yaml against the lab "
                                               "notebooks and render curriculum/SYLLABUS.md.")
    sub = parser.add_subparsers(dest="curriculum_command", metavar="ACTION", required=True)

    check = sub.add_parser("check", help="validate course.yaml against the lab notebooks")
    _course_arg(check)
    check.add_argument("--lab", action="append", metavar="ID", dest="labs",
                       help="check the notebooks of only these labs (repeatable); course-wide "
                            "rules still cover every lab. Default: all labs")
    check.set_defaults(func=_check)

    build = sub.add_parser("build", help="render SYLLABUS.md next to the course file")
    _course_arg(build)
    build.add_argument("--output", type=Path, help="where to write (default: SYLLABUS.md beside the course file)")
    build.add_argument("--check", action="store_true", help="write nothing; exit 1 if the file is out of date")
    build.add_argument("--lang", choices=("en", "zh-CN"), default="en",
                       help="language of the syllabus (default: en); zh-CN writes SYLLABUS.zh-CN.md "
                            "from the course file's *_zh texts")
    build.set_defaults(func=_build)

    show = sub.add_parser("schema", help="print the fields course.yaml may contain")
    show.set_defaults(func=lambda args: print(describe()) or 0)


def _course_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--course", type=Path, default=DEFAULT_COURSE,
                        help=f"course file (default: {DEFAULT_COURSE})")


def _check(args: argparse.Namespace) -> int:
    problems = check_course(args.course, labs=args.labs)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s) in the curriculum", file=sys.stderr)
        return 1
    scope = f"{len(args.labs)} selected lab(s)" if args.labs else "all labs"
    print(f"{args.course}: OK ({scope})")
    return 0


def _build(args: argparse.Namespace) -> int:
    course = load_course(args.course)          # CourseFileError -> printed by labchain.cli
    name = "SYLLABUS.md" if args.lang == "en" else f"SYLLABUS.{args.lang}.md"
    output = args.output or args.course.parent / name
    text = render_syllabus(course, args.lang)
    current = output.read_text(encoding="utf-8") if output.exists() else None
    if args.check:
        if current != text:
            lang = "" if args.lang == "en" else f" --lang {args.lang}"
            print(f"{output} is out of date; run: labchain curriculum build{lang}", file=sys.stderr)
            return 1
        print(f"{output}: up to date")
        return 0
    if current != text:
        output.write_text(text, encoding="utf-8")
        print(f"wrote {output}")
    else:
        print(f"{output}: already up to date")
    return 0
