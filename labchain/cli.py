"""The ``labchain`` command: a dispatcher over sub-command groups.

Each group lives in its own module exposing ``register(subparsers)``; the module sets
``func`` on its parsers (``parser.set_defaults(func=...)``) and that function returns the
process exit code. Groups whose module is absent are simply not offered.

``labchain GROUP ...`` imports only that group's module (``labchain node`` does not load the
Docker SDK, YAML or the curriculum tools); ``labchain``, ``labchain --help`` or an unknown
group import them all, to list every group.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from labchain.core.errors import LabchainError

#: sub-command group -> module that registers it
GROUPS = {
    "node": "labchain.node.cli",
    "testnet": "labchain.testnet.cli",
    "class": "labchain.deploy.classroom",
    "images": "labchain.deploy.images",
    "curriculum": "labchain.curriculum.cli",
    "lab": "labchain.deploy.lab",
    "certs": "labchain.identity.cli",
    "deploy": "labchain.deploy.k8s.cli",
    "hub": "labchain.deploy.hub.cli",
    "explorer": "labchain.explorer.cli",
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The ``labchain`` parser with every group, or with group ``only`` (and ``grade``) alone."""
    parser = argparse.ArgumentParser(
        prog="labchain",
        description="LabChain: a teaching blockchain, its testnets and its labs.",
    )
    sub = parser.add_subparsers(dest="group", metavar="COMMAND")
    if only is None:
        for name in GROUPS:
            _register(name, sub)
    elif only in GROUPS and not _register(only, sub):
        return build_parser()  # that group is not installed: the error lists those there are
    grade = sub.add_parser("grade", help="instructor grading (same as labchain-grade)", add_help=False)
    grade.add_argument("rest", nargs=argparse.REMAINDER)
    grade.set_defaults(func=_forward_to_grading)
    return parser


def _register(name: str, sub: argparse._SubParsersAction) -> bool:
    """Import group ``name``'s module and add its parsers; False when it is not installed."""
    module_name = GROUPS[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            return False  # that part of the project is not installed/built yet
        raise
    module.register(sub)
    return True


def _forward_to_grading(args: argparse.Namespace) -> int:
    """Run ``labchain-grade`` with the same arguments, as its own process: ``grading`` sits
    above ``labchain`` in the layers, so ``labchain`` never imports it."""
    import subprocess

    return subprocess.call([sys.executable, "-m", "grading.cli", *args.rest])


def main(argv: list[str] | None = None) -> int:
    """``labchain ...``; a reader that stops early (``labchain ... | head``) ends the
    command quietly with exit code 141 (128 + SIGPIPE, as shells report it), no traceback."""
    try:
        return _main(argv)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)   # so the interpreter's final flush is quiet
        os.dup2(devnull, sys.stdout.fileno())
        return 141


def _main(argv: list[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "grade":  # hand everything after "grade" to labchain-grade as is
        return _forward_to_grading(argparse.Namespace(rest=argv[1:]))
    chosen = argv[0] if argv and (argv[0] in GROUPS or argv[0] == "grade") else None
    parser = build_parser(chosen)
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
