"""Fault injection on a real node's links: partition, delay and drop, set over RPC or the CLI.

A student breaks a running testnet on purpose (``labchain testnet fault 1 --partition
node2,node3``, ``setfault`` over RPC, ``net.nodes[1].set_fault(...)`` from a notebook) and
watches what the consensus engine does. The faults act inside this node's P2P layer
(``p2p.py`` asks :class:`NodeFaults` about every message it sends and every one it receives),
so the other nodes, the engines and the chain code are untouched.

Terminology
-----------
fault
    A :class:`LinkFault` record: plain frozen data with one canonical encoding, checked when
    it is built (:meth:`LinkFault.build`). ``setfault`` replaces the fields it is given and
    keeps the others; ``clearfaults`` sets the empty fault back.
partition (``partition``: peer names)
    Every message to or from the named peers is discarded after the handshake, in both
    directions, as a network split between this node and them. The TCP connection, its
    handshake and its ``ping``/``pong`` are kept, so healing is immediate and ``getpeerinfo``
    still lists the peer (a real split would end the connection after the pong timeout, and
    the persistent-peer redial would bring it back once healed: same end state, slower).
    Partitioning one node from all others is the "disconnect" perturbation of Tendermint's e2e
    tests; partitioning two nodes of a 4-validator BFT chain from each other's halves leaves
    no side with a 2f+1 quorum.
delay (``delay_ms``)
    Every message this node *sends* after the handshake (consensus, transactions, ``ping``: so
    ``getpeerinfo``'s ``ping_ms`` shows it) waits that many milliseconds before it is written;
    the caller is not held up (a slow link, not a slow node). Equal delays keep the order.
drop (``drop``: a probability, ``seed``)
    Each outgoing ``consensus`` message is discarded with probability ``drop``, drawn from a
    ``random.Random(seed)`` that restarts with every ``setfault``: the same sequence of
    messages meets the same drops. Other message types are never dropped (a lossy link under
    a reliable transport would retransmit them; the engines are the part that must survive loss).

byzantine (``byzantine``: a behaviour name, ``targets``: peer names)
    This node's consensus engine turns Byzantine (TBFT and PBFT only): the honest engine is
    wrapped in ``labchain.consensus.faults.ByzantineEngine``, the wrapper the simulator uses, so
    one ``FaultSchedule.byzantine`` entry means the same on both. ``double-vote``: every
    prevote/precommit is also signed for a conflicting value hash and sent (to ``targets``
    only, if given; the honest peers that see both make duplicate-vote evidence and gossip it);
    ``double-propose``: as proposer it sends a conflicting proposal to half of the peers (TBFT
    proposal, PBFT pre-prepare); ``invalid-vote``, ``withhold-votes``, ``lie-round`` as in the
    simulator. ``byzantine=""`` makes the engine honest again. The evidence the honest nodes
    collect is ``getevidence`` (labchain/node/consensus.py, docs/fault-injection.md).

Faults live in memory only: a restarted node starts with none (say so to students: ``kill`` +
``restart`` heals a partition set this way).

Simplifications versus real fault injection (ChainMaker's chaos tests, Tendermint's e2e
``perturb``: disconnect / kill / pause / restart, Jepsen, chaos-mesh's netem): faults act in
one node's P2P layer rather than the kernel (no packet-level loss, no bandwidth limit, no
jitter distribution: the simulator's ``labchain.consensus.faults`` has those); a partition is
per peer name, not per address; drops are of whole messages; a Byzantine node can only rewrite
what its honest engine sends (the simulator's wrapper), it cannot invent other attacks.
"""
from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar, Iterable

from labchain.consensus.faults import NODE_BEHAVIOURS, FaultError, node_behaviour
from labchain.core.encoding import ListOf, Record, UInt, VarBytes
from labchain.core.errors import LabchainError
from labchain.node.rpc import Code, Method, Param, RpcError

if TYPE_CHECKING:
    from labchain.node.node import Node

MAX_DELAY_MS = 10_000          # below p2p's SEND_TIMEOUT_SECONDS and PONG_TIMEOUT_SECONDS
PPM = 1_000_000                # drop probabilities are stored in parts per million
MAX_PARTITION = 64
#: never delayed nor cut: the handshake (so a link comes up and heals at once)
HANDSHAKE = frozenset({b"version", b"verack", b"reject", b"authhello", b"auth"})
#: not cut by a partition (the link stays up; see the module docstring)
LIVENESS = frozenset({b"ping", b"pong"})
DROPPABLE = b"consensus"       # the only type ``drop`` discards (labchain/node/consensus.py)
RESTART_NOTE = "faults live in memory only: a restarted node starts with none"
#: engines whose messages the Byzantine wrapper can forge (they implement its hooks)
BYZANTINE_ENGINES = ("tbft", "pbft")
CLI_NAMES = {v: k for k, v in NODE_BEHAVIOURS.items()}


class NodeFaultError(LabchainError, ValueError):
    """A fault that cannot be set: names the bad value and what is allowed."""


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class LinkFault(Record):
    """The faults of one node: its links (``drop_ppm``: parts per million, see :attr:`drop`)
    and its engine's Byzantine ``byzantine`` behaviour (a ``BEHAVIOURS`` name, b"" = honest)
    with the ``targets`` of a double vote (empty = every peer)."""

    partition: tuple[bytes, ...] = ()
    delay_ms: int = 0
    drop_ppm: int = 0
    seed: int = 0
    byzantine: bytes = b""
    targets: tuple[bytes, ...] = ()
    ENCODING: ClassVar = (("partition", ListOf(VarBytes(64), MAX_PARTITION)), ("delay_ms", UInt(4)),
                          ("drop_ppm", UInt(4)), ("seed", UInt(8)), ("byzantine", VarBytes(32)),
                          ("targets", ListOf(VarBytes(64), MAX_PARTITION)))

    def __post_init__(self) -> None:   # also guards records decoded from bytes or JSON
        if self.delay_ms > MAX_DELAY_MS:
            raise NodeFaultError(f"delay_ms is {self.delay_ms}, more than {MAX_DELAY_MS} "
                                 "(10 s: longer would trip the peers' send timeout)", self.delay_ms)
        if self.drop_ppm > PPM:
            raise NodeFaultError(f"drop_ppm is {self.drop_ppm}, more than {PPM} (a probability "
                                 "above 1)", self.drop_ppm)
        if len(set(self.partition)) != len(self.partition):
            raise NodeFaultError("the partition names a peer twice", self.partition)
        if self.byzantine and self.byzantine.decode("utf-8", "replace") not in CLI_NAMES:
            raise NodeFaultError(f"unknown Byzantine behaviour {self.byzantine!r:.40}; a node can be "
                                 f"made {', '.join(NODE_BEHAVIOURS)}", self.byzantine)
        if self.targets and self.byzantine != b"double_vote":
            raise NodeFaultError("targets name the peers of a double vote: set byzantine to "
                                 "'double-vote' with them", self.targets)
        if len(set(self.targets)) != len(self.targets):
            raise NodeFaultError("the targets name a peer twice", self.targets)

    @property
    def drop(self) -> float:
        return self.drop_ppm / PPM

    @property
    def active(self) -> bool:
        return bool(self.partition or self.delay_ms or self.drop_ppm or self.byzantine)

    @property
    def behaviour(self) -> str:
        """The simulator's name of the Byzantine behaviour ("" = honest)."""
        return self.byzantine.decode()

    @classmethod
    def build(cls, base: LinkFault | None = None, *, partition: Iterable[str] | None = None,
              delay_ms: Any = None, drop: Any = None, seed: Any = None,
              byzantine: Any = None, targets: Any = None,
              known: Iterable[str] = (), own: str = "", engine: str | None = None) -> LinkFault:
        """``base`` with the given fields replaced (None: keep), checked with clear sentences.

        ``known``: the peer names a partition may name (the validators, the connected peers);
        ``own``: this node's name, which it cannot cut itself off from; ``engine``: the
        consensus type (a Byzantine behaviour needs tbft or pbft; None: not checked).
        ``byzantine=""`` makes the node honest again (and forgets its targets)."""
        fault = base or cls()
        changes: dict[str, Any] = {}
        if partition is not None:
            changes["partition"] = _peer_names(partition, "partition", known, own)
        if byzantine is not None:
            if not isinstance(byzantine, str):
                raise NodeFaultError(f"byzantine is a behaviour name like 'double-vote', got "
                                     f"{byzantine!r:.40}", byzantine)
            if byzantine in ("", "none"):
                changes["byzantine"], changes["targets"] = b"", ()
            else:
                try:
                    changes["byzantine"] = node_behaviour(byzantine).encode()
                except FaultError as exc:
                    raise NodeFaultError(exc.message, byzantine) from None
                if engine is not None and engine not in BYZANTINE_ENGINES:
                    raise NodeFaultError(f"a Byzantine behaviour needs a BFT engine "
                                         f"({' or '.join(BYZANTINE_ENGINES)}); this chain runs "
                                         f"{engine or 'no consensus engine'}", byzantine)
                if changes["byzantine"] != b"double_vote" and targets is None:
                    changes["targets"] = ()
        if targets is not None:
            changes["targets"] = _peer_names(targets, "targets", known, own)
        if delay_ms is not None:
            if not _number(delay_ms) or delay_ms != delay_ms:
                raise NodeFaultError(f"delay_ms must be a number of milliseconds, got "
                                     f"{delay_ms!r:.40}", delay_ms)
            if delay_ms < 0:
                raise NodeFaultError(f"delay_ms must not be negative (a message cannot leave "
                                     f"before it is sent), got {delay_ms}", delay_ms)
            if delay_ms > MAX_DELAY_MS:
                raise NodeFaultError(f"delay_ms is at most {MAX_DELAY_MS} (10 s: longer would trip "
                                     f"the peers' send timeout), got {delay_ms}", delay_ms)
            changes["delay_ms"] = int(round(delay_ms))
        if drop is not None:
            if not _number(drop) or drop != drop or not 0 <= drop <= 1:
                raise NodeFaultError(f"drop is a probability between 0 and 1 (0.3 drops about 30% "
                                     f"of the consensus messages), got {drop!r:.40}", drop)
            changes["drop_ppm"] = int(round(drop * PPM))
        if seed is not None:
            if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**64:
                raise NodeFaultError(f"seed must be an integer from 0 to 2**64-1, got {seed!r:.40}", seed)
            changes["seed"] = seed
        return replace(fault, **changes)

    def describe(self) -> dict[str, Any]:
        """The JSON ``getfaults`` shows: names as text, the drop as a probability."""
        return {"partition": [n.decode("utf-8", "replace") for n in self.partition],
                "delay_ms": self.delay_ms, "drop": self.drop, "seed": self.seed,
                "byzantine": CLI_NAMES.get(self.behaviour) if self.byzantine else None,
                "targets": [n.decode("utf-8", "replace") for n in self.targets],
                "active": self.active}


def _peer_names(value: Any, field: str, known: Iterable[str], own: str) -> tuple[bytes, ...]:
    """A list of peer names for ``field`` (partition, targets), each known and not ``own``."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise NodeFaultError(f"{field} must be a list of peer names like ['node2', 'node3'], got "
                             f"{value!r:.60}", value)
    known_set = set(known)
    names: list[bytes] = []
    for name in value:
        if not isinstance(name, str) or not name:
            raise NodeFaultError(f"{field} entries are peer names like 'node2', got {name!r:.40}", name)
        if name == own:
            raise NodeFaultError(f"{own} cannot be partitioned from itself: name the other nodes "
                                 "to cut it off from them" if field == "partition" else
                                 f"{own} cannot name itself in the {field}", name)
        if name not in known_set:
            listing = ", ".join(sorted(known_set - {own})) or "no peer yet"
            raise NodeFaultError(f"unknown peer {name!r:.40} in the {field}; this node knows "
                                 f"{listing}", name)
        if name.encode() in names:
            raise NodeFaultError(f"the {field} names {name} twice", name)
        names.append(name.encode())
    if len(names) > MAX_PARTITION:
        raise NodeFaultError(f"a partition names at most {MAX_PARTITION} peers" if field == "partition"
                             else f"the {field} name at most {MAX_PARTITION} peers", value)
    return tuple(names)


NO_FAULT = LinkFault()


class NodeFaults:
    """The fault in force on one node and what it has done; the P2P layer consults it."""

    def __init__(self) -> None:
        self.fault = NO_FAULT
        self.rng = random.Random(0)
        self.counts: Counter = Counter()   # ("dropped_out" | "dropped_in" | "delayed", command)

    @property
    def active(self) -> bool:
        return self.fault.active

    def set(self, fault: LinkFault) -> LinkFault:
        self.fault = fault
        self.rng = random.Random(fault.seed)
        return fault

    def clear(self) -> None:
        self.set(NO_FAULT)

    def _cut(self, peer: Any, command: bytes) -> bool:
        return (bool(self.fault.partition) and command not in HANDSHAKE | LIVENESS
                and peer.name.encode() in self.fault.partition)

    def outgoing(self, peer: Any, message: Record) -> float | None:
        """None: discard ``message`` to ``peer``; else the seconds to hold it before writing."""
        command = type(message).COMMAND
        if command in HANDSHAKE:
            return 0.0
        if self._cut(peer, command) or (
                command == DROPPABLE and self.fault.drop_ppm
                and self.rng.random() < self.fault.drop):
            self.counts["dropped_out", command] += 1
            return None
        if self.fault.delay_ms:
            self.counts["delayed", command] += 1
        return self.fault.delay_ms / 1000

    def incoming(self, peer: Any, message: Record) -> bool:
        """Whether to deliver ``message`` from ``peer`` (False: a partition discards it)."""
        command = type(message).COMMAND
        if self._cut(peer, command):
            self.counts["dropped_in", command] += 1
            return False
        return True

    def report(self) -> dict[str, Any]:
        body = self.fault.describe()
        for kind in ("dropped_out", "dropped_in", "delayed"):
            body[kind] = {c.decode(): n for (k, c), n in sorted(self.counts.items()) if k == kind}
        body["note"] = RESTART_NOTE
        return body


async def send_later(peer: Any, seconds: float, write) -> None:
    """Write a held message after ``seconds`` (unless the peer closed meanwhile)."""
    await asyncio.sleep(seconds)
    if not peer.closed:
        await write()


# --- RPC -------------------------------------------------------------------------------------

def known_peers(node: Node) -> set[str]:
    """Names a partition may name: the engine's validators and every connected peer."""
    names = {p.name for p in node.p2p.peers.values() if p.name and not p.closed}
    if node.params.consensus is not None:
        names.update(node.params.consensus.validators)
    names.discard(node.name)
    return names


def fault_methods(node: Node) -> list[Method]:
    """``setfault``, ``getfaults``, ``clearfaults`` (registered by ``methods.build_methods``)."""
    faults = node.p2p.faults

    spec = node.params.consensus
    engine = spec.type if spec is not None else ""

    def apply(fault: LinkFault) -> dict:
        faults.set(fault)
        if node.consensus is not None:
            node.consensus.set_byzantine(fault.behaviour, [t.decode() for t in fault.targets])
        return faults.report()

    def setfault(partition: Any = None, delay_ms: Any = None, drop: Any = None, seed: Any = None,
                 byzantine: Any = None, targets: Any = None) -> dict:
        try:
            fault = LinkFault.build(faults.fault, partition=partition, delay_ms=delay_ms, drop=drop,
                                    seed=seed, byzantine=byzantine, targets=targets,
                                    known=known_peers(node), own=node.name, engine=engine)
        except NodeFaultError as exc:
            raise RpcError(Code.INVALID_PARAMS, exc.message, obj=exc.obj) from None
        return apply(fault)

    def getfaults() -> dict:
        return faults.report()

    def clearfaults() -> dict:
        return apply(NO_FAULT)

    def getevidence() -> dict:
        if node.consensus is None:
            return {"engine": "", "evidence": [], "rejected": 0}
        return node.consensus.evidence_report()

    def submitevidence(evidence: Any) -> dict:
        if node.consensus is None:
            raise RpcError(Code.INVALID_PARAMS, "this chain runs no consensus engine: there are no "
                           "votes to equivocate with", obj=evidence)
        try:
            return node.consensus.submit_evidence(evidence)
        except LabchainError as exc:
            raise RpcError(Code.INVALID_PARAMS, f"evidence rejected: {exc.message}", obj=exc.obj) from None

    P = Param
    return [
        Method("setfault", setfault, (P("partition", "any", False), P("delay_ms", "any", False),
                                      P("drop", "any", False), P("seed", "any", False),
                                      P("byzantine", "any", False), P("targets", "any", False)),
               "inject faults: partition [peer names], delay_ms, drop probability, seed, byzantine "
               f"behaviour ({', '.join(NODE_BEHAVIOURS)}; '' = honest), targets [peers of a double "
               "vote] (given fields replace, others stay; in memory only)"),
        Method("getfaults", getfaults, (), "the faults in force and what they dropped or delayed"),
        Method("clearfaults", clearfaults, (), "remove every fault (the engine is honest again)"),
        Method("getevidence", getevidence, (),
               "equivocation evidence this node holds (two signed votes of one validator for "
               "different blocks at one height and round), and the certificate height recording each"),
        Method("submitevidence", submitevidence, (P("evidence", "str"),),
               "hand this node duplicate-vote evidence (hex): checked, pooled and gossiped if new"),
    ]


__all__ = ["LinkFault", "NodeFaults", "NodeFaultError", "NO_FAULT", "fault_methods", "known_peers"]
