"""``python -m labchain.node ...``: the same as ``labchain node ...``, without loading the other
command groups (faster start-up; what the local testnet backend launches).

Memory: a testnet runs one such process per node, so what a node imports at start is paid
once per node (see ``bench/bench_testnet.py``). Modules needed only for some requests (signing,
mining, the RPC client) are imported where they are used. A node speaks plain TCP and HTTP;
``asyncio`` imports ``ssl`` only to offer TLS, which no node uses, and that import alone costs
about 4.5 MiB of resident memory (OpenSSL's libssl and the ``ssl`` module). This entry point
therefore marks ``ssl`` as absent before anything imports it, as on a Python built without
it; ``asyncio`` and ``http.client`` are written to work then. A node started another way
(``labchain node``, or in-process) simply keeps ``ssl``.
"""
import sys

if __name__ == "__main__":
    sys.modules.setdefault("ssl", None)  # type: ignore[assignment]  # see the docstring

import argparse  # noqa: E402

from labchain.node.cli import register  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labchain.node")
    register(parser.add_subparsers(dest="group", required=True))
    args = parser.parse_args(["node", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
