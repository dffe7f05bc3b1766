"""``python -m labchain.node ...``: the same as ``labchain node ...``, without loading the other
command groups (faster start-up; what the local testnet backend launches)."""
import argparse
import sys

from labchain.node.cli import register


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labchain.node")
    register(parser.add_subparsers(dest="group", required=True))
    args = parser.parse_args(["node", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
