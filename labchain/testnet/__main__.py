"""``python -m labchain.testnet ...``: the same as ``labchain testnet ...``, without loading the
other command groups (faster; used by scripts and tests)."""
import argparse
import sys

from labchain.cli import run_command
from labchain.testnet.cli import register


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labchain.testnet")
    register(parser.add_subparsers(dest="group", required=True))
    return run_command(parser.parse_args(["testnet", *(sys.argv[1:] if argv is None else argv)]))


if __name__ == "__main__":
    sys.exit(main())
