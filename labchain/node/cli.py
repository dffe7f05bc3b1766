"""``labchain node``: run one node in this process (what testnet backends launch).

Example::

    labchain node --datadir /tmp/n0 --params regtest --p2p-port 0 --rpc-port 0
    labchain node --datadir /tmp/n1 --params regtest --peer 127.0.0.1:40123

The node logs to ``DATADIR/node.log`` and writes ``DATADIR/ready.json`` (pid, p2p and rpc
endpoints) once both listeners are up. Exit codes: 0 after a clean stop, 1 when the node
cannot start (the reason is printed on stderr and logged), 2 for bad arguments.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from labchain.core.errors import LabchainError

LOG_FORMAT = "%(asctime)s.%(msecs)03d %(levelname)s %(name)s: %(message)s"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "node", help="run one LabChain node (P2P + JSON-RPC) in this process",
        description="Run one LabChain node: a P2P listener and a JSON-RPC 2.0 endpoint over HTTP.",
    )
    p.add_argument("--datadir", required=True, type=Path, help="data directory (chain, node.log, ready.json)")
    p.add_argument("--config", "--params", dest="params", default="regtest", metavar="CHAIN",
                   help="chain configuration: a shipped preset (regtest, lab, main) or a YAML file "
                        "(docs/ARCHITECTURE.md, 'Chain configuration'; default regtest)")
    p.add_argument("--config-text", default=None, help=argparse.SUPPRESS)  # YAML itself (containers)
    p.add_argument("--p2p-host", default="127.0.0.1", help="P2P listen address (default 127.0.0.1)")
    p.add_argument("--p2p-port", type=int, default=0, help="P2P port; 0 picks a free one (default)")
    p.add_argument("--rpc-host", default="127.0.0.1", help="JSON-RPC listen address (default 127.0.0.1)")
    p.add_argument("--rpc-port", type=int, default=0, help="JSON-RPC port; 0 picks a free one (default)")
    p.add_argument("--peer", action="append", default=[], metavar="HOST:PORT",
                   help="connect to this peer and keep reconnecting (repeatable)")
    p.add_argument("--mining", default="manual", help="manual, instant or interval:SECONDS (default manual)")
    p.add_argument("--node-index", type=int, default=0,
                   help="this node's index: its mining rewards go to account INDEX mod 10")
    p.add_argument("--max-peers", type=int, default=None,
                   help="most connections at once, inbound + outbound (default 16)")
    p.add_argument("--name", default="", help="name shown to peers (default nodeINDEX)")
    p.add_argument("--parent-pid", type=int, default=None,
                   help="exit when this process dies (testnets use it so nodes never outlive them)")
    p.add_argument("--identity", type=Path, default=None, metavar="FOLDER",
                   help="permissioned chains: this node's folder from `labchain certs generate` "
                        "(<name>.sign.key and .sign.crt; docs/identity.md, 'Node links')")
    p.add_argument("--log-level", default="INFO", help="DEBUG, INFO or WARNING (default INFO)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from labchain.node.node import NodeConfig, parse_mining, run_node
    from labchain.node.process import LOG_FILE
    from labchain.core.config import chain_params, load_config, parse_config
    from labchain.core.params import NETWORKS

    # a node serves many clients: it speaks English on the wire and in its log, whatever the
    # LABCHAIN_LANG it inherited; each RpcClient translates (labchain/node/rpc.py, RpcError)
    os.environ.pop("LABCHAIN_LANG", None)
    try:
        parse_mining(args.mining)
        chain = (parse_config(args.config_text, "--config-text") if args.config_text
                 else None if args.params in NETWORKS else load_config(args.params))
        params = chain.params if chain else chain_params(args.params)
        if chain is not None and chain.identity is not None:
            from labchain.node.identity import node_identity

            identity = node_identity(chain.identity, args.identity, args.node_index)
        else:
            identity = None
    except (ValueError, LabchainError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args.datadir.mkdir(parents=True, exist_ok=True)
    setup_logging(args.datadir / LOG_FILE, args.log_level)
    config = NodeConfig(
        datadir=args.datadir, params=params, p2p_host=args.p2p_host, p2p_port=args.p2p_port,
        rpc_host=args.rpc_host, rpc_port=args.rpc_port, peers=list(args.peer), mining=args.mining,
        node_index=args.node_index, parent_pid=args.parent_pid, name=args.name, identity=identity,
    )
    if args.max_peers is not None:
        config.max_peers = args.max_peers
    try:
        return run_node(config)
    except (LabchainError, OSError) as exc:
        logging.getLogger("labchain.node").error("cannot start: %s", exc)
        print(f"error: node cannot start: {exc}", file=sys.stderr)
        return 1


def setup_logging(path: Path, level: str = "INFO") -> None:
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter(LOG_FORMAT, "%Y-%m-%d %H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
