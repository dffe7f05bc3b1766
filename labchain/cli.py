"""The ``labchain`` command: a dispatcher over sub-command groups.

Each group lives in its own module exposing ``register(subparsers)``; the module sets
``func`` on its parsers (``parser.set_defaults(func=...)``) and that function returns the
process exit code. Groups whose module is absent are simply not offered.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from labchain.errors import LabchainError

#: sub-command group -> module that registers it
GROUPS = {
    "node": "labchain.node.cli",
    "testnet": "labchain.testnet.cli",
    "class": "labchain.testnet.classroom",
    "images": "labchain.images",
    "curriculum": "labchain.curriculum.cli",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="labchain",
        description="LabChain: a teaching blockchain, its testnets and its labs.",
    )
    sub = parser.add_subparsers(dest="group", metavar="COMMAND")
    for name, module_name in GROUPS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue  # that part of the project is not installed/built yet
            raise
        module.register(sub)
    grade = sub.add_parser("grade", help="instructor grading (same as labchain-grade)", add_help=False)
    grade.add_argument("rest", nargs=argparse.REMAINDER)
    grade.set_defaults(func=_forward_to_grading)
    return parser


def _forward_to_grading(args: argparse.Namespace) -> int:
    from grading.cli import main as grade_main

    return grade_main(args.rest)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return run_command(args)


def run_command(args: argparse.Namespace) -> int:
    """Run a parsed sub-command; LabChain errors become a message and exit code 1."""
    try:
        return int(args.func(args) or 0)
    except LabchainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
