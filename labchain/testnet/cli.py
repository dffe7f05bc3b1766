"""``labchain testnet ...``: start, inspect, break and stop a testnet from a shell.

Examples::

    labchain testnet up --nodes 4 --topology line --params regtest
    export LABCHAIN_TESTNET=...          # the line `up` prints; notebooks read it
    labchain testnet status
    labchain testnet partition 0,1 2,3 && labchain testnet heal
    labchain testnet kill 2 && labchain testnet restart 2
    labchain testnet fault 1 --partition node2,node3 && labchain testnet fault 1 --clear
    labchain testnet logs 2
    labchain testnet down

Every command but ``up`` finds the testnet through ``--dir``, else ``LABCHAIN_TESTNET``, else
the running ``make lab`` session's testnet (``labchain.testnet.session``), else the default
directory. Exit codes: 0 success, 1 a LabChain error (printed), 2 bad arguments.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from labchain.testnet.backend import BACKENDS, TestnetError
from labchain.testnet.testnet import ENV_VAR, STATE_FILE, TOPOLOGIES, Testnet

DEFAULT_DIR = Path(os.environ.get("LABCHAIN_TESTNET_DIR", Path.home() / ".labchain" / "testnet"))


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("testnet", help="run a multi-node testnet on this machine",
                                   description="Start, inspect, partition and stop a LabChain testnet.")
    sub = parser.add_subparsers(dest="testnet_command", metavar="COMMAND", required=True)

    def command(name: str, func, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.add_argument("--dir", type=Path, default=None,
                       help=f"testnet directory (default: ${ENV_VAR}, else {DEFAULT_DIR})")
        p.set_defaults(func=func)
        return p

    up = command("up", cmd_up, "start nodes, connect them, print the node table and LABCHAIN_TESTNET")
    up.add_argument("--nodes", type=int, default=4, help="number of nodes (default 4)")
    up.add_argument("--topology", choices=TOPOLOGIES, default="line", help="who dials whom (default line)")
    up.add_argument("--config", "--params", dest="params", default="regtest", metavar="CHAIN",
                    help="chain configuration: a preset (regtest, lab, main) or a YAML file (default regtest)")
    up.add_argument("--backend", choices=sorted(BACKENDS), default="local", help="where nodes run (default local)")
    up.add_argument("--student", default=None,
                    help="student id for the docker backend (labels, network); default: from --dir")
    up.add_argument("--mining", default="manual", help="manual, instant or interval:SECONDS (default manual)")
    up.add_argument("--owner-pid", type=int, default=None,
                    help="nodes exit when this process dies (default: they run until `down`)")
    up.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the nodes (default 60)")
    up.add_argument("--quiet", action="store_true", help="print only the LABCHAIN_TESTNET value")

    st = command("status", cmd_status, "show every node: state, height, peers, endpoints")
    st.add_argument("--json", action="store_true", help="machine-readable output")
    command("down", cmd_down, "stop every node of the testnet")
    part = command("partition", cmd_partition, "split the network, e.g. `partition 0,1 2,3`")
    part.add_argument("groups", nargs="+", help="comma-separated node indexes, one argument per group")
    command("heal", cmd_heal, "reconnect the nodes after a partition")
    kill = command("kill", cmd_kill, "SIGKILL one node (a crash)")
    kill.add_argument("node", type=int)
    restart = command("restart", cmd_restart, "(re)start one node on its data dir")
    restart.add_argument("node", type=int)
    fault = command("fault", cmd_fault, "inject faults on one node (partition, delay, drop, a Byzantine "
                    "engine), or --clear them; no option: show them. In memory: a restart clears them")
    fault.add_argument("node", type=int, help="node index")
    fault.add_argument("--partition", metavar="PEERS", default=None,
                       help="comma-separated peers to cut this node off from: node2,node3 or 2,3")
    fault.add_argument("--delay-ms", type=float, default=None, metavar="MS",
                       help="hold every message this node sends for MS milliseconds (0 to 10000)")
    fault.add_argument("--drop", type=float, default=None, metavar="P",
                       help="drop this fraction (0 to 1) of the consensus messages it sends")
    fault.add_argument("--seed", type=int, default=None, help="seed of the drop draws (default 0)")
    fault.add_argument("--byzantine", default=None, metavar="BEHAVIOUR",
                       help="make its TBFT/PBFT engine Byzantine: double-vote, double-propose, "
                            "invalid-vote, withhold-votes, lie-round; 'none' = honest again")
    fault.add_argument("--targets", metavar="PEERS", default=None,
                       help="with --byzantine double-vote: the peers that also get the conflicting "
                            "votes (node2,node3 or 2,3; default every peer)")
    fault.add_argument("--clear", action="store_true", help="remove every fault of this node")
    fault.add_argument("--json", action="store_true", help="machine-readable output")
    logs = command("logs", cmd_logs, "print a node's log")
    logs.add_argument("node", type=int)
    logs.add_argument("--tail", type=int, default=0, help="only the last N lines")
    command("env", cmd_env, "print `export LABCHAIN_TESTNET=...` for a running testnet")
    mon = command("monitor-config", cmd_monitor_config,
                  "print a prometheus.yml that scrapes every node's /metrics (see docs/monitoring.md)")
    mon.add_argument("--interval", type=float, default=5.0, help="scrape interval in seconds (default 5)")
    from labchain.testnet.consortium import add_governance_command

    add_governance_command(command)   # `labchain testnet governance ...` (consortium testnets)


def _locate(args: argparse.Namespace) -> str:
    if args.dir is not None:
        return str(args.dir)
    from labchain.testnet.session import recorded_testnet  # the one `make lab` started

    return os.environ.get(ENV_VAR) or recorded_testnet() or str(DEFAULT_DIR)


def _connect(args: argparse.Namespace) -> Testnet:
    return Testnet.connect(_locate(args))


def cmd_up(args: argparse.Namespace) -> int:
    directory = args.dir or DEFAULT_DIR
    bar = None
    if not args.quiet:
        from tqdm import tqdm

        bar = tqdm(total=args.nodes, desc="starting nodes", unit="node", file=sys.stderr, leave=False)

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar.n = done
            bar.refresh()

    backend_options = {"student": args.student} if args.student else {}
    if args.student and args.backend != "docker":
        raise TestnetError("--student only applies to --backend docker (local testnets are per user)")
    try:
        net = Testnet.start(nodes=args.nodes, topology=args.topology, params=args.params,
                            backend=args.backend, dir=directory, mining=args.mining,
                            owner_pid=args.owner_pid, timeout=args.timeout, progress=progress,
                            **backend_options)
    finally:
        if bar is not None:
            bar.close()
    if args.quiet:
        print(net.env_value)
        return 0
    print(f"LabChain testnet: {args.nodes} nodes, {args.topology} topology, {args.params}, "
          f"backend {args.backend}, dir {net.dir}")
    print(net.table())
    print(f"\nexport {ENV_VAR}={net.env_value}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    net = _connect(args)
    if args.json:
        print(json.dumps(net.status(), indent=1))
    else:
        print(repr(net))
        print(net.table())
    return 0


def cmd_monitor_config(args: argparse.Namespace) -> int:
    from labchain.node.metrics import scrape_config

    net = _connect(args)
    print(scrape_config({"local": [(n.index, n.rpc_url) for n in net.nodes]}, args.interval), end="")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    where = _locate(args)
    state = Path(where) if where.endswith(".json") else Path(where) / STATE_FILE
    if not where.lstrip().startswith("{") and not state.exists():
        print(f"no testnet is up in {state.parent} (no {STATE_FILE}): nothing to stop")
        return 0
    net = _connect(args)
    total = len(net.nodes)
    running = net.down()
    stopped_before = f"; {total - running} of {total} had already stopped" if running < total else ""
    print(f"stopped {running} node(s){stopped_before}")
    return 0


def cmd_partition(args: argparse.Namespace) -> int:
    try:
        groups = [[int(x) for x in g.split(",") if x] for g in args.groups]
    except ValueError:
        raise TestnetError(f"groups are comma-separated node numbers like 0,1; got {' '.join(args.groups)}") from None
    net = _connect(args)
    stopped = net.partition(*groups)
    if stopped:
        names = ", ".join(f"node{i}" for i in stopped)
        print(f"warning: {names} {'is' if len(stopped) == 1 else 'are'} not running: nothing to cut "
              "now; restarted, it dials only its own group", file=sys.stderr)
    print(net.table())
    return 0


def cmd_heal(args: argparse.Namespace) -> int:
    net = _connect(args)
    net.heal()
    print(net.table())
    return 0


def cmd_kill(args: argparse.Namespace) -> int:
    if _connect(args).kill(args.node):
        print(f"killed node{args.node}")
    else:
        print(f"node{args.node} was not running (already stopped or dead): nothing to kill")
    return 0


def cmd_restart(args: argparse.Namespace) -> int:
    net = _connect(args)
    net.restart(args.node)
    print(net.table())
    return 0


def cmd_fault(args: argparse.Namespace) -> int:
    setting = [args.partition, args.delay_ms, args.drop, args.seed, args.byzantine, args.targets]
    if args.clear and any(v is not None for v in setting):
        raise TestnetError("--clear removes every fault: give it alone, then set new ones")
    net = _connect(args)
    net._check_index(args.node)
    node = net.nodes[args.node]
    if args.clear:
        report = node.clear_faults()
    elif any(v is not None for v in setting):
        def peers(text):
            return None if text is None else [int(p) if p.strip().isdigit() else p.strip()
                                              for p in text.split(",") if p.strip()]
        report = node.set_fault(peers(args.partition), args.delay_ms, args.drop, args.seed,
                                args.byzantine, peers(args.targets))
    else:
        report = node.faults()
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    parts = []
    if report["partition"]:
        parts.append(f"cut off from {', '.join(report['partition'])}")
    if report["delay_ms"]:
        parts.append(f"sends {report['delay_ms']} ms late")
    if report["drop"]:
        parts.append(f"drops {report['drop']:.0%} of its consensus messages (seed {report['seed']})")
    if report.get("byzantine"):
        parts.append(f"Byzantine: {report['byzantine']}" + (
            f" towards {', '.join(report['targets'])}" if report.get("targets") else ""))
    print(f"node{args.node}: " + ("; ".join(parts) if parts else "no fault"))
    dropped = sum(report["dropped_out"].values()) + sum(report["dropped_in"].values())
    if dropped or report["delayed"]:
        print(f"  so far: {dropped} message(s) dropped, {sum(report['delayed'].values())} delayed")
    print(f"  ({report['note']})")
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    net = _connect(args)
    if not 0 <= args.node < len(net.nodes):
        raise TestnetError(f"there is no node {args.node}; this testnet has nodes 0..{len(net.nodes) - 1}")
    text = net.nodes[args.node].logs()
    if args.tail:
        text = "\n".join(text.splitlines()[-args.tail:])
    print(text)
    return 0


def cmd_env(args: argparse.Namespace) -> int:
    net = _connect(args)
    print(f"export {ENV_VAR}={net.env_value}")
    return 0


__all__ = ["register", "DEFAULT_DIR", "STATE_FILE"]
