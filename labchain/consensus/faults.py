"""Fault injection as data: timed network/process faults and Byzantine engine wrappers.

A :class:`FaultSchedule` is a list of :class:`FaultAction` (what happens at which virtual
second) plus the Byzantine behaviour of some validators. It is plain data with a JSON form
(:meth:`FaultSchedule.to_json` / :meth:`FaultSchedule.from_json`), so the same schedule can be
applied to the simulator (:meth:`FaultSchedule.apply`) and, by a driver that maps the actions
to signals and proxy rules, to a testnet of real processes. Nothing here knows one engine:
Byzantine behaviours call the hooks of :class:`ByzantineHooks`, which an engine (TBFT, PBFT)
implements for its own messages.

Terminology
-----------
crash / recover
    The node stops (its in-flight messages are lost) and later restarts with its state, as a
    process restarted from its disk.
pause / resume
    ``SIGSTOP``/``SIGCONT``: nothing is lost, messages and timers wait until it resumes.
drop / delay / reorder
    Link rules selected by message type (the engine ``COMMAND``, e.g. ``"tbft.prevote"``; empty
    = every type) and sender; active from ``at`` to ``until`` (``None`` = to the end). A delay
    is a distribution: ``("fixed", s)``, ``("uniform", lo, hi)`` or ``("exponential", mean)``;
    reorder adds a uniform extra delay in ``[0, window]`` so later messages overtake.
partition / heal
    Groups of node ids; messages between groups are dropped until ``heal``.
Byzantine behaviours (:data:`BEHAVIOURS`)
    ``double_proposal`` (a proposer sends a different value to half of the peers),
    ``double_vote`` (every vote is sent twice, for the value and for a conflicting one: this
    is the equivocation a correct node detects; with ``targets`` the conflicting vote goes only
    to those peers, the others learn of it from the evidence gossip), ``equivocate`` (colluding split: the members
    of one :class:`Collusion` send the real value to one half of the correct validators and the
    alternative to the other half, proposals and votes alike: with f+1 members this breaks
    safety), ``invalid_vote`` (votes for a value that fails the application's check),
    ``withhold_votes`` (never votes), ``lie_round`` (votes and proposals claim a later round).

Simplifications versus real fault injection (Jepsen, chaos-mesh, ChainMaker's own tests):
no clock skew (each engine is given the driver's clock); no disk faults (a crashed node keeps
its whole state); link rules select by sender and message type, not by byte pattern; a
Byzantine node is an honest engine whose *outputs* are rewritten, so it cannot invent
behaviour its engine's hooks do not offer.
"""
from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Protocol, Sequence

from labchain.consensus.engine import (
    Broadcast, ConsensusError, Engine, Output, Send, max_faulty,
)
from labchain.core.encoding import Record


class FaultError(ConsensusError):
    """A fault schedule entry is malformed (names the entry and what is wrong)."""


ACTIONS = ("crash", "recover", "pause", "resume", "partition", "heal", "drop", "delay", "reorder")
BEHAVIOURS = ("double_proposal", "double_vote", "equivocate", "invalid_vote", "withhold_votes",
              "lie_round")
DISTRIBUTIONS = {"fixed": 1, "uniform": 2, "exponential": 1}
#: the names a real node's ``setfault byzantine=...`` takes (CLI spelling) -> BEHAVIOURS;
#: ``equivocate`` needs several colluding nodes, so it stays a simulator behaviour
NODE_BEHAVIOURS = {"double-vote": "double_vote", "double-propose": "double_proposal",
                   "invalid-vote": "invalid_vote", "withhold-votes": "withhold_votes",
                   "lie-round": "lie_round"}


def node_behaviour(name: str) -> str:
    """The BEHAVIOURS entry for ``name`` in either spelling (``double-vote``/``double_vote``,
    ``double-propose``/``double_proposal``); FaultError listing the choices otherwise."""
    if isinstance(name, str):
        if name in NODE_BEHAVIOURS:
            return NODE_BEHAVIOURS[name]
        if name in NODE_BEHAVIOURS.values():
            return name
    raise FaultError(f"unknown Byzantine behaviour {name!r:.40}; a node can be made "
                     f"{', '.join(NODE_BEHAVIOURS)}", name)


def sample_delay(spec: Sequence[Any], rng: random.Random) -> float:
    """One delay in seconds from ``("fixed", s)``, ``("uniform", lo, hi)``, ``("exponential", mean)``."""
    kind = spec[0]
    if kind == "fixed":
        return float(spec[1])
    if kind == "uniform":
        return rng.uniform(float(spec[1]), float(spec[2]))
    return rng.expovariate(1.0 / float(spec[1]))


def _check_delay(spec: Sequence[Any], where: str) -> tuple:
    if not spec or spec[0] not in DISTRIBUTIONS or len(spec) != DISTRIBUTIONS[spec[0]] + 1:
        raise FaultError(f"{where}: delay must be ('fixed', s), ('uniform', lo, hi) or "
                         f"('exponential', mean), got {spec!r}", spec)
    if any(not isinstance(x, (int, float)) or isinstance(x, bool) or x < 0 for x in spec[1:]):
        raise FaultError(f"{where}: delay parameters must be non-negative numbers, got {spec!r}", spec)
    return tuple(spec)


@dataclass(frozen=True, slots=True)
class LinkRule:
    """Drop, delay or reorder messages of some types from some senders (see module docstring)."""
    kind: str                                   # "drop" | "delay" | "reorder"
    commands: frozenset[str] = frozenset()      # empty = every message type
    senders: frozenset[str] = frozenset()       # empty = every sender
    probability: float = 1.0
    delay: tuple = ("fixed", 0.0)

    def apply(self, sender: str, receiver: str, message: Record, rng: random.Random) -> float | None:
        if self.senders and sender not in self.senders:
            return 0.0
        if self.commands and type(message).COMMAND.decode() not in self.commands:  # type: ignore[attr-defined]
            return 0.0
        if self.probability < 1.0 and rng.random() >= self.probability:
            return 0.0
        if self.kind == "drop":
            return None
        return sample_delay(self.delay, rng)


@dataclass(frozen=True, slots=True)
class FaultAction:
    """One timed fault. ``nodes``: whom it hits (crash/recover/pause/resume: required; link
    rules: the senders, empty = all). ``until``: when a link rule ends (None = never)."""
    at: float
    action: str
    nodes: tuple[str, ...] = ()
    groups: tuple[tuple[str, ...], ...] = ()
    commands: tuple[str, ...] = ()
    probability: float = 1.0
    delay: tuple = ()
    until: float | None = None

    def __post_init__(self) -> None:
        where = f"fault at {self.at!r} ({self.action!r})"
        if self.action not in ACTIONS:
            raise FaultError(f"{where}: unknown action; use one of {', '.join(ACTIONS)}", self)
        if not isinstance(self.at, (int, float)) or isinstance(self.at, bool) or self.at < 0:
            raise FaultError(f"{where}: the time must be a non-negative number of seconds", self)
        if self.action in ("crash", "recover", "pause", "resume") and not self.nodes:
            raise FaultError(f"{where}: name the node(s) it applies to", self)
        if self.action == "partition" and len(self.groups) < 2:
            raise FaultError(f"{where}: a partition needs at least two groups of nodes", self)
        if not 0.0 <= self.probability <= 1.0:
            raise FaultError(f"{where}: probability must be in [0, 1]", self)
        if self.action == "delay":
            _check_delay(self.delay, where)
        if self.action == "reorder" and (len(self.delay) > 1 or any(
                not isinstance(x, (int, float)) or x < 0 for x in self.delay)):
            raise FaultError(f"{where}: reorder takes one window in seconds, got {self.delay!r}", self)
        if self.until is not None and (not isinstance(self.until, (int, float)) or self.until < self.at):
            raise FaultError(f"{where}: until ({self.until}) is before the start", self)
        object.__setattr__(self, "nodes", tuple(self.nodes))
        object.__setattr__(self, "groups", tuple(tuple(g) for g in self.groups))
        object.__setattr__(self, "commands", tuple(self.commands))
        object.__setattr__(self, "delay", tuple(self.delay))

    @property
    def end(self) -> float:
        """When this fault stops acting (its start for one-shot actions)."""
        return self.until if self.until is not None else self.at

    def rule(self) -> LinkRule:
        if self.action == "reorder":  # delay[0] is the window (seconds), default 50 ms
            window = float(self.delay[-1]) if self.delay else 0.05
            return LinkRule("reorder", frozenset(self.commands), frozenset(self.nodes),
                            self.probability, ("uniform", 0.0, window))
        return LinkRule(self.action, frozenset(self.commands), frozenset(self.nodes),
                        self.probability, self.delay or ("fixed", 0.0))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"at": self.at, "action": self.action}
        for name, empty in (("nodes", ()), ("groups", ()), ("commands", ()), ("probability", 1.0),
                            ("delay", ()), ("until", None)):
            value = getattr(self, name)
            if value != empty:
                out[name] = [list(g) for g in value] if name == "groups" else (
                    list(value) if isinstance(value, tuple) else value)
        return out

    @classmethod
    def from_json(cls, obj: Any) -> "FaultAction":
        if not isinstance(obj, dict) or "at" not in obj or "action" not in obj:
            raise FaultError(f"a fault action must be an object with 'at' and 'action', got {obj!r}", obj)
        known = {"at", "action", "nodes", "groups", "commands", "probability", "delay", "until"}
        unknown = sorted(set(obj) - known)
        if unknown:
            raise FaultError(f"fault action has unknown key(s): {', '.join(unknown)}", obj)
        return cls(at=obj["at"], action=obj["action"], nodes=tuple(obj.get("nodes", ())),
                   groups=tuple(tuple(g) for g in obj.get("groups", ())),
                   commands=tuple(obj.get("commands", ())), probability=obj.get("probability", 1.0),
                   delay=tuple(obj.get("delay", ())), until=obj.get("until"))


@dataclass(frozen=True, slots=True)
class FaultSchedule:
    """Timed faults plus Byzantine validators: ``byzantine`` maps node -> behaviour name;
    every ``equivocate`` member of one schedule belongs to one :class:`Collusion`."""
    actions: tuple[FaultAction, ...] = ()
    byzantine: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "actions", tuple(sorted(self.actions, key=lambda a: a.at)))
        object.__setattr__(self, "byzantine", tuple(sorted(tuple(b) for b in self.byzantine)))
        for node, behaviour in self.byzantine:
            if behaviour not in BEHAVIOURS:
                raise FaultError(f"Byzantine behaviour {behaviour!r} of {node} is unknown; use one "
                                 f"of {', '.join(BEHAVIOURS)}", behaviour)

    @property
    def byzantine_nodes(self) -> frozenset[str]:
        return frozenset(node for node, _ in self.byzantine)

    @property
    def last_fault_time(self) -> float:
        """When the last timed fault stops acting (0 if none): liveness is judged after it."""
        return max((a.end for a in self.actions), default=0.0)

    def apply(self, sim: Any) -> None:
        """Register every action on ``sim`` (a :class:`~labchain.consensus.sim.Simulation`)."""
        for action in self.actions:
            sim.at(action.at, _runner(action))

    def wrap(self, engines: dict[str, Engine]) -> dict[str, Engine]:
        """``engines`` with each Byzantine validator's engine wrapped in its behaviour."""
        colluders = frozenset(n for n, b in self.byzantine if b == "equivocate")
        collusion = Collusion(colluders, tuple(sorted(engines)))
        behaviour = dict(self.byzantine)
        return {node: (ByzantineEngine(engine, behaviour[node], collusion)
                       if node in behaviour else engine) for node, engine in engines.items()}

    def to_json(self) -> dict[str, Any]:
        return {"actions": [a.to_json() for a in self.actions],
                "byzantine": {node: b for node, b in self.byzantine}}

    def dumps(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True)

    @classmethod
    def from_json(cls, obj: Any) -> "FaultSchedule":
        if isinstance(obj, str):
            try:
                obj = json.loads(obj)
            except ValueError as exc:
                raise FaultError(f"a fault schedule must be JSON: {exc}", obj) from None
        if not isinstance(obj, dict) or set(obj) - {"actions", "byzantine"}:
            raise FaultError("a fault schedule is an object with 'actions' and 'byzantine'", obj)
        byz = obj.get("byzantine", {})
        if not isinstance(byz, dict):
            raise FaultError("'byzantine' maps node ids to behaviour names", byz)
        return cls(tuple(FaultAction.from_json(a) for a in obj.get("actions", ())),
                   tuple(byz.items()))


def _runner(action: FaultAction) -> Callable[[Any], None]:
    def run(sim: Any) -> None:
        if action.action in ("crash", "recover", "pause", "resume"):
            for node in action.nodes:
                getattr(sim, action.action)(node)
        elif action.action == "partition":
            sim.partition(*action.groups)
        elif action.action == "heal":
            sim.heal()
        else:
            rule = action.rule()
            sim.link_rules.append(rule)
            if action.until is not None:
                sim.at(action.until, lambda s: s.link_rules.remove(rule) if rule in s.link_rules else None)
    return run


# --- Byzantine behaviours ------------------------------------------------------------------

class ByzantineHooks(Protocol):
    """What an engine offers so that :class:`ByzantineEngine` can forge its messages. Each
    returns a re-signed message, or ``None`` when the message cannot be forged that way."""

    def byz_kind(self, message: Record) -> str | None:
        """``"proposal"``, ``"vote"``, or ``None`` for any other message."""

    def byz_conflicting(self, message: Record, alternative: Callable[[bytes], bytes]) -> Record | None:
        """The same proposal/vote for ``alternative(value)`` instead of its value."""

    def byz_invalid(self, message: Record) -> Record | None:
        """The same proposal/vote for a value the application rejects."""

    def byz_round(self, message: Record, round: int) -> Record | None:
        """The same message claiming ``round``."""


@dataclass(frozen=True, slots=True)
class Collusion:
    """Colluding equivocators: which correct peers get the real value and which the other."""
    members: frozenset[str]
    nodes: tuple[str, ...]

    @staticmethod
    def alternative(value: bytes) -> bytes:
        """The conflicting value every member agrees on (deterministic from the real one)."""
        return value + b"|alt"

    def second_half(self) -> frozenset[str]:
        correct = [n for n in self.nodes if n not in self.members]
        return frozenset(correct[len(correct) // 2:])


#: rounds a ``lie_round`` validator adds to the messages it sends
LIE_ROUND_AHEAD = 7


class ByzantineEngine(Engine):
    """An honest engine whose outputs are rewritten by one Byzantine ``behaviour``."""

    def __init__(self, inner: Engine, behaviour: str, collusion: Collusion | None = None, *,
                 targets: Iterable[str] | None = None) -> None:
        if behaviour not in BEHAVIOURS:
            raise FaultError(f"Byzantine behaviour {behaviour!r} is unknown; use one of "
                             f"{', '.join(BEHAVIOURS)}", behaviour)
        super().__init__(inner.node_id, inner.validators, inner.app)
        self.inner = inner
        self.behaviour = behaviour
        self.collusion = collusion or Collusion(frozenset([inner.node_id]), inner.validators)
        #: double_vote only: the peers that also get the conflicting vote (None: every peer)
        self.targets = None if targets is None else frozenset(targets)
        self.name = getattr(inner, "name", "byzantine")

    def __getattr__(self, item: str) -> Any:  # height, round... of the wrapped engine
        return getattr(self.inner, item)

    def start(self, now: float) -> list[Output]:
        return self._rewrite(self.inner.start(now))

    def on_message(self, sender: str, message: Record, now: float) -> list[Output]:
        return self._rewrite(self.inner.on_message(sender, message, now))

    def on_timer(self, name: str, now: float) -> list[Output]:
        return self._rewrite(self.inner.on_timer(name, now))

    def submit(self, command: bytes, now: float) -> list[Output]:
        return self._rewrite(self.inner.submit(command, now))

    def status(self) -> dict[str, Any]:
        return {**self.inner.status(), "byzantine": self.behaviour}

    def _peers(self) -> list[str]:
        return [v for v in self.validators if v != self.node_id]

    def _rewrite(self, outputs: Iterable[Output]) -> list[Output]:
        hooks: Any = self.inner
        result: list[Output] = []
        for out in outputs:
            if not isinstance(out, (Broadcast, Send)):
                result.append(out)
                continue
            kind = hooks.byz_kind(out.message)
            forged = self._forge(hooks, out.message, kind)
            if forged is _WITHHOLD:
                continue
            if forged is None:
                result.append(out)
            elif self.behaviour == "double_vote" and self.targets is not None:
                result.append(out)
                result.extend(Send(p, forged) for p in self._peers() if p in self.targets
                              and (isinstance(out, Broadcast) or out.to == p))
            elif self.behaviour == "double_vote":
                result.extend([out, _same_target(out, forged)])
            elif self.behaviour in ("equivocate", "double_proposal"):
                if isinstance(out, Send):
                    result.append(_same_target(out, forged) if out.to in self.collusion.second_half()
                                  else out)
                else:
                    second = self.collusion.second_half()
                    result.extend(Send(p, forged if p in second else out.message) for p in self._peers())
            else:
                result.append(_same_target(out, forged))
        return result

    def _forge(self, hooks: Any, message: Record, kind: str | None) -> Any:
        b = self.behaviour
        if kind is None:
            return None
        if b == "withhold_votes":
            return _WITHHOLD if kind == "vote" else None
        if b == "double_proposal":
            return hooks.byz_conflicting(message, Collusion.alternative) if kind == "proposal" else None
        if b in ("double_vote", "equivocate"):
            return hooks.byz_conflicting(message, Collusion.alternative)
        if b == "invalid_vote":
            return hooks.byz_invalid(message)
        if b == "lie_round":
            return hooks.byz_round(message, getattr(message, "round", 0) + LIE_ROUND_AHEAD)
        return None


_WITHHOLD = object()


def _same_target(out: Send | Broadcast, message: Record) -> Send | Broadcast:
    return Send(out.to, message) if isinstance(out, Send) else Broadcast(message)


# --- per-student schedules ----------------------------------------------------------------

def schedule_for_student(student_id: str, n: int | Sequence[str], seed: int = 0, *,
                         duration: float = 60.0, byzantine: bool = True,
                         commands: Sequence[str] = ("tbft.proposal", "tbft.prevote", "tbft.precommit"),
                         ) -> FaultSchedule:
    """A fault schedule that differs per ``(student_id, seed)`` but never exceeds f faulty
    validators (crashed, paused or Byzantine), so safety must hold and liveness return after
    :attr:`FaultSchedule.last_fault_time` (at most ``duration * 0.75``)."""
    nodes = [f"v{i}" for i in range(n)] if isinstance(n, int) else list(n)
    digest = hashlib.sha256(f"labchain.faults|{student_id}|{len(nodes)}|{seed}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    f = max_faulty(len(nodes))
    faulty = rng.sample(nodes, f)
    actions: list[FaultAction] = []
    byz: list[tuple[str, str]] = []
    end = duration * 0.75

    def window() -> tuple[float, float]:
        start = round(rng.uniform(duration * 0.02, end * 0.6), 3)
        return start, round(rng.uniform(start + duration * 0.02, end), 3)

    for node in faulty:
        choice = rng.choice(["crash", "pause", "byzantine"] if byzantine else ["crash", "pause"])
        if choice == "byzantine":
            byz.append((node, rng.choice([b for b in BEHAVIOURS if b != "equivocate"])))
        else:
            start, stop = window()
            actions.append(FaultAction(start, choice, (node,)))
            actions.append(FaultAction(stop, "recover" if choice == "crash" else "resume", (node,)))
    for _ in range(rng.randint(1, 3)):
        start, stop = window()
        kind = rng.choice(["drop", "delay", "reorder", "partition"])
        if kind == "partition":
            cut = rng.randint(1, len(nodes) - 1)
            shuffled = rng.sample(nodes, len(nodes))
            actions.append(FaultAction(start, "partition", groups=(tuple(sorted(shuffled[:cut])),
                                                                    tuple(sorted(shuffled[cut:])))))
            actions.append(FaultAction(stop, "heal"))
        else:
            picked = tuple(rng.sample(list(commands), rng.randint(1, len(commands))))
            delay = {"drop": (), "delay": ("exponential", round(rng.uniform(0.01, 0.5), 3)),
                     "reorder": (round(rng.uniform(0.01, 0.2), 3),)}[kind]
            actions.append(FaultAction(start, kind, commands=picked,
                                       probability=round(rng.uniform(0.2, 0.9), 2),
                                       delay=delay, until=stop))
    return FaultSchedule(tuple(actions), tuple(byz))
