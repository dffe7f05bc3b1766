"""``labchain explorer``: serve the block explorer (and the class console) on this machine.

Examples::

    labchain explorer                          # the testnet of $LABCHAIN_TESTNET / `make lab`
    labchain explorer --testnet ~/.labchain/testnet --port 8088
    labchain explorer --rpc http://127.0.0.1:18443/ --rpc http://127.0.0.1:18453/
    labchain explorer --class --token s3cret   # + /class: every student's Docker testnet

Exit codes: 0 stopped by Ctrl-C, 1 a LabChain error (printed), 2 bad arguments.
"""
from __future__ import annotations

import argparse
import os
import sys

from labchain.core.errors import LabchainError

DEFAULT_PORT = 8088
TOKEN_ENV = "LABCHAIN_EXPLORER_TOKEN"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("explorer", help="block explorer and class console in the browser",
                              description="Serve a read-only block explorer over the nodes' JSON-RPC.")
    p.add_argument("--testnet", metavar="PATH", help="testnet.json or its directory (default: "
                   "$LABCHAIN_TESTNET, else the running `make lab` session)")
    p.add_argument("--rpc", metavar="URL", action="append", default=[],
                   help="a node's RPC URL (repeat for each node); replaces --testnet")
    p.add_argument("--name", default="local", help="the network's name in URLs (default: local)")
    p.add_argument("--class", dest="console", action="store_true",
                   help="also serve /class: every student's Docker testnet (needs the token)")
    p.add_argument("--token", default=None, help=f"class console token (default: ${TOKEN_ENV}, else a "
                   "random one, printed)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any free)")
    p.set_defaults(func=run)


def networks_from(args: argparse.Namespace) -> dict:
    from labchain.explorer.data import Network

    if args.rpc:
        return {args.name: Network.from_urls(args.name, args.rpc)}
    from labchain.testnet import Testnet
    from labchain.testnet.session import recorded_testnet

    where = args.testnet or os.environ.get("LABCHAIN_TESTNET") or recorded_testnet()
    if not where:
        if args.console:
            return {}
        raise LabchainError("no testnet to explore: pass --testnet PATH or --rpc URL, set "
                            "LABCHAIN_TESTNET, or start one with `labchain testnet up`")
    return {args.name: Network.from_testnet(args.name, Testnet.connect(where))}


def run(args: argparse.Namespace) -> int:
    from labchain.explorer.server import serve

    try:
        networks = networks_from(args)
        console = None
        if args.console:
            from labchain.explorer.console import Console, docker_provider

            console = Console(docker_provider, args.token or os.environ.get(TOKEN_ENV))
        serve(networks, console, args.host, args.port)
    except LabchainError as exc:
        print(f"labchain explorer: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0
