"""A deterministic consensus simulator: engines on a seeded virtual clock and network model.

The same :class:`~labchain.consensus.engine.Engine` objects that run inside real nodes run
here, driven by a priority queue of events instead of sockets and timers. Time is virtual
(seconds as floats that only this simulator advances), the network delays each message by a
latency drawn from a seeded ``random.Random``, and may drop it or cut it by a partition. Every
message goes through the real wire encoding (:func:`encode_engine_message` then
:func:`decode_engine_message`), so a message the real network could not carry fails here too
(a broadcast is encoded and decoded once, and its receivers share the frozen decoded record).

A run is a pure function of (engines' configuration, seed, fault schedule): running it twice
gives the same commit log, bit for bit (:meth:`Simulation.commit_log_hash`).

Terminology
-----------
event
    ``(time, sequence, kind, ...)`` in a heap; ``sequence`` breaks ties in insertion order, so
    equal times never depend on dict or hash ordering.
crash
    A crashed node receives nothing and its timers do not fire; its state is kept, so
    :meth:`Simulation.recover` resumes it (like a process restarted from its disk).
partition
    Groups of node ids; a message between two groups is dropped.
pause
    A paused node (``SIGSTOP``) keeps its messages and timers: they are held and handed to it,
    in their original order, when it resumes (a crash loses messages; a pause only delays them).
link rule
    An object with ``apply(sender, receiver, message, rng) -> float | None`` in
    :attr:`Simulation.link_rules`: ``None`` drops the message, a float adds that many seconds of
    delay (``labchain/consensus/faults.py`` builds them: drop or delay by message type, reorder).
message key
    ``sha256(sender, receiver, wire bytes)``: names one message independently of when it was
    sent, so a re-run can suppress exactly it (:attr:`Simulation.suppress`); the invariant
    checkers minimise a violating history this way.

Simplifications versus a real network: links are symmetric; no bandwidth limit or queueing;
a message is delivered at most once (no duplication) unless a fault adds it.
"""
from __future__ import annotations

import hashlib
import heapq
import random
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from labchain.consensus.engine import (
    Broadcast, CancelTimer, Commit, Engine, Misbehaviour, SetTimer, Send,
    decode_engine_message, encode_engine_message,
)


@dataclass(slots=True)
class NetworkModel:
    """Latency (uniform in ``[min_latency, max_latency]`` seconds) and loss probability."""
    min_latency: float = 0.001
    max_latency: float = 0.010
    loss: float = 0.0


@dataclass(slots=True)
class Delivery:
    """One message put on the simulated network (kept for message-sequence charts)."""
    sent: float
    arrives: float
    sender: str
    receiver: str
    command: str
    dropped: bool
    #: the message's ``height`` and ``round`` fields when it has them (BFT engines), else None
    height: int | None = None
    round: int | None = None
    #: :func:`message_key` of the message (to suppress it in a re-run)
    key: bytes = b""
    message: Any = None


def message_key(sender: str, receiver: str, wire: bytes) -> bytes:
    """The identity of one message on one link, stable across re-runs of the same scenario."""
    return hashlib.sha256(sender.encode() + b"\x00" + receiver.encode() + b"\x00" + wire).digest()[:16]


@dataclass(slots=True)
class Simulation:
    engines: dict[str, Engine]
    seed: int = 0
    network: NetworkModel = field(default_factory=NetworkModel)
    #: keep every Delivery (memory grows with the run; off for large benchmarks)
    record_messages: bool = True

    now: float = 0.0
    commits: dict[str, list[Commit]] = field(default_factory=dict)
    misbehaviour: list[tuple[str, Misbehaviour]] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    messages_sent: int = 0
    crashed: set[str] = field(default_factory=set)
    groups: list[frozenset[str]] | None = None
    #: hooks called after every processed event: ``check(sim)`` may raise to stop the run
    checkers: list[Callable[["Simulation"], None]] = field(default_factory=list)
    #: fault rules applied to every sent message (see the module docstring)
    link_rules: list[Any] = field(default_factory=list)
    #: message keys to drop (a re-run with these messages removed)
    suppress: set[bytes] = field(default_factory=set)
    paused: set[str] = field(default_factory=set)
    #: node -> virtual time of each of its commits (parallel to ``commits``)
    commit_times: dict[str, list[float]] = field(default_factory=dict)
    _held: dict[str, list[tuple[str, Any]]] = field(default_factory=dict)

    _queue: list[tuple[float, int, str, Any]] = field(default_factory=list)
    _seq: int = 0
    _timers: dict[tuple[str, str], int] = field(default_factory=dict)
    _rng: random.Random = field(init=False)
    _started: bool = False

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        for node in self.engines:
            self.commits.setdefault(node, [])
            self.commit_times.setdefault(node, [])

    # --- scheduling -------------------------------------------------------------------
    def _push(self, at: float, kind: str, payload: Any) -> int:
        self._seq += 1
        heapq.heappush(self._queue, (at, self._seq, kind, payload))
        return self._seq

    def at(self, time: float, action: Callable[["Simulation"], None]) -> None:
        """Run ``action(sim)`` at virtual ``time`` (fault schedules use this)."""
        self._push(time, "action", action)

    def submit(self, node: str, command: bytes, at: float | None = None) -> None:
        self._push(self.now if at is None else at, "submit", (node, command))

    def inject(self, sender: str, receiver: str, message, at: float | None = None) -> None:
        """Deliver ``message`` to ``receiver`` as if ``sender`` had sent it (fuzzing, replay);
        it goes through the wire encoding like any other message."""
        self._push(self.now if at is None else at, "deliver",
                   (sender, receiver, decode_engine_message(encode_engine_message(message))))

    # --- faults -----------------------------------------------------------------------
    def crash(self, node: str) -> None:
        self.crashed.add(node)

    def recover(self, node: str) -> None:
        self.crashed.discard(node)

    def pause(self, node: str) -> None:
        self.paused.add(node)

    def resume(self, node: str) -> None:
        """Hand a paused node what it missed, in order, at the current time."""
        self.paused.discard(node)
        for kind, payload in self._held.pop(node, []):
            seq = self._push(self.now, kind, payload)
            if kind == "timer":
                self._timers[payload] = seq

    def partition(self, *groups: Iterable[str]) -> None:
        self.groups = [frozenset(g) for g in groups]

    def heal(self) -> None:
        self.groups = None

    def connected(self, a: str, b: str) -> bool:
        if self.groups is None:
            return True
        return any(a in g and b in g for g in self.groups)

    # --- running ----------------------------------------------------------------------
    def _apply(self, node: str, outputs: list) -> None:
        for out in outputs:
            if isinstance(out, Send):
                self._send(node, out.to, out.message)
            elif isinstance(out, Broadcast):
                # encoded and decoded once for all receivers: records are frozen, so sharing
                # the decoded copy is safe, and it still went through the wire format
                wire = encode_engine_message(out.message)
                decoded = decode_engine_message(wire)
                for other in self.engines:
                    if other != node:
                        self._send(node, other, out.message, wire, decoded)
            elif isinstance(out, SetTimer):
                seq = self._push(self.now + out.delay, "timer", (node, out.name))
                self._timers[(node, out.name)] = seq
            elif isinstance(out, CancelTimer):
                self._timers.pop((node, out.name), None)
            elif isinstance(out, Commit):
                self.commits[node].append(out)
                self.commit_times[node].append(self.now)
            elif isinstance(out, Misbehaviour):
                self.misbehaviour.append((node, out))
            else:  # an engine bug: say so loudly, a simulator must not guess
                raise TypeError(f"engine {node} returned {out!r}, not an engine output")

    def _send(self, sender: str, receiver: str, message, wire: bytes | None = None,
              decoded: Any = None) -> None:
        self.messages_sent += 1
        if wire is None:
            wire = encode_engine_message(message)
            decoded = decode_engine_message(wire)
        latency = self._rng.uniform(self.network.min_latency, self.network.max_latency)
        dropped = (self.network.loss > 0 and self._rng.random() < self.network.loss) \
            or not self.connected(sender, receiver)
        for rule in self.link_rules:
            extra = rule.apply(sender, receiver, message, self._rng)
            if extra is None:
                dropped = True
            else:
                latency += extra
        key = message_key(sender, receiver, wire) if (self.suppress or self.record_messages) else b""
        if self.suppress and key in self.suppress:
            dropped = True
        if self.record_messages:
            self.deliveries.append(Delivery(self.now, self.now + latency, sender, receiver,
                                            type(message).COMMAND.decode(), dropped,
                                            getattr(message, "height", None),
                                            getattr(message, "round", None), key, message))
        if not dropped:
            self._push(self.now + latency, "deliver", (sender, receiver, decoded))

    def start(self) -> None:
        if self._started:
            return
        self._started = True
        for node in sorted(self.engines):
            self._apply(node, self.engines[node].start(self.now))

    def step(self) -> bool:
        """Process one event; False when nothing is left."""
        self.start()
        if not self._queue:
            return False
        time, seq, kind, payload = heapq.heappop(self._queue)
        self.now = max(self.now, time)
        if kind == "action":
            payload(self)
        elif kind == "submit":
            node, command = payload
            if node not in self.crashed:
                self._apply(node, self.engines[node].submit(command, self.now))
        elif kind == "timer" and payload[0] in self.paused:
            if self._timers.get(payload) == seq:  # still armed: fires when the node resumes
                del self._timers[payload]
                self._held.setdefault(payload[0], []).append((kind, payload))
        elif kind == "deliver" and payload[1] in self.paused:
            self._held.setdefault(payload[1], []).append((kind, payload))
        elif kind == "timer":
            node, name = payload
            if self._timers.get((node, name)) == seq:
                del self._timers[(node, name)]
                if node not in self.crashed:
                    self._apply(node, self.engines[node].on_timer(name, self.now))
                else:  # a crashed node's timer fires when it recovers: re-arm shortly after
                    self._timers[(node, name)] = self._push(self.now + 0.05, "timer", (node, name))
        elif kind == "deliver":
            sender, receiver, message = payload
            if receiver not in self.crashed and self.connected(sender, receiver):
                self._apply(receiver, self.engines[receiver].on_message(sender, message, self.now))
        for check in self.checkers:
            check(self)
        return True

    def run(self, until: float | None = None, max_events: int = 10_000_000,
            stop: Callable[["Simulation"], bool] | None = None) -> "Simulation":
        """Process events until virtual time ``until``, ``stop(sim)`` is true, or the queue
        empties; returns self."""
        self.start()
        stopped = False
        for _ in range(max_events):
            if stop is not None and stop(self):
                stopped = True   # the clock stays at the event that satisfied ``stop``
                break
            if not self._queue or (until is not None and self._queue[0][0] > until):
                break
            self.step()
        if until is not None and not stopped:
            self.now = max(self.now, until)
        return self

    # --- results ----------------------------------------------------------------------
    def heights(self) -> dict[str, int]:
        return {node: (c[-1].height if c else 0) for node, c in self.commits.items()}

    def commit_log_hash(self) -> str:
        """SHA-256 over every node's commits in order: equal iff two runs committed alike."""
        h = hashlib.sha256()
        for node in sorted(self.commits):
            h.update(node.encode() + b"\x00")
            for c in self.commits[node]:
                h.update(c.height.to_bytes(8, "big") + hashlib.sha256(c.value).digest())
        return h.hexdigest()


class SimApp:
    """A toy application for simulations: the value proposed at height h by node n is
    ``b"block h by n"``; :meth:`check` accepts a value for height h iff it starts with
    ``b"block h "`` (so a Byzantine ``b"invalid block ..."`` fails and an equivocator's
    ``b"block h by n|alt"`` passes: validity and safety are different invariants)."""

    def __init__(self, node: str) -> None:
        self.node = node

    def propose(self, height: int) -> bytes:
        return b"block %d by %s" % (height, self.node.encode())

    @staticmethod
    def check(height: int, value: bytes) -> str | None:
        if not value.startswith(b"block %d " % height):
            return f"value {value[:32]!r} is not a block of height {height}"
        return None
