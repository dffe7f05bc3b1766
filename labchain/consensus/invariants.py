"""Invariant checkers for simulated consensus runs, and the shortest history of a violation.

Each checker is a callable ``check(sim)`` put in :attr:`Simulation.checkers`; the simulator
calls it after every event, so a violation raises :class:`InvariantViolation` at the very
step that broke the invariant and the run stops there. Checkers are engine-independent:
they read only ``sim.commits``, ``sim.commit_times``, ``sim.crashed`` and ``sim.deliveries``.

Terminology
-----------
correct node
    A validator that follows the protocol (not Byzantine). A crashed or paused node is still
    correct: it may be slow, never wrong.
safety
    No two correct nodes commit different values at one height (and no node commits twice at
    one height with different values).
validity
    Every value a correct node commits passes the application's ``check(height, value)``.
liveness after stabilisation
    Once the last fault has stopped acting (``stable_after``), every correct node that is up
    commits a height above the best height at that moment within ``bound`` virtual seconds,
    and again in every later window of ``bound`` seconds.
shortest history
    :func:`minimise` re-runs the scenario, each time suppressing one more message of the
    violating height (on the wire, by its :func:`~labchain.consensus.sim.message_key`), and
    keeps a message suppressed when the same kind of violation still happens at the same
    height with a strictly shorter history (removing one message can shift the timing of the
    rest, so a run may reach the violation by a longer path: that removal is refused). It
    repeats the pass until nothing more can be removed (or ``max_runs``). The result is
    *1-minimal* over the messages of the violating height: removing any single reported
    message either makes that violation disappear or lengthens the history. It is not a
    global minimum (that search is exponential), and messages of earlier heights are
    replayed as context, not reported.

Simplifications: the checkers trust the simulator's bookkeeping (a real deployment would
compare signed commit certificates collected from the nodes instead).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from labchain.consensus.engine import ConsensusError


class InvariantViolation(ConsensusError):
    """A safety, validity or liveness invariant broke; ``.obj`` is the :class:`Violation`."""


@dataclass(slots=True)
class Violation:
    kind: str                 # "safety" | "validity" | "liveness"
    height: int
    time: float
    detail: str
    nodes: tuple[str, ...] = ()
    #: the delivered messages of ``height`` up to the violation (sim.Delivery objects)
    history: list[Any] = field(default_factory=list)

    def format_history(self) -> str:
        return format_deliveries(self.history)


def format_deliveries(deliveries: Iterable[Any]) -> str:
    lines = []
    for d in deliveries:
        where = "" if d.height is None else f" h={d.height}" + ("" if d.round is None else f" r={d.round}")
        lines.append(f"t={d.sent:9.4f} -> {d.arrives:9.4f}  {d.sender} -> {d.receiver}  {d.command}{where}")
    return "\n".join(lines)


def history_of(sim: Any, height: int) -> list[Any]:
    """The messages about ``height`` that reached their receiver before now (requires
    ``sim.record_messages``)."""
    return [d for d in sim.deliveries
            if d.height == height and not d.dropped and d.arrives <= sim.now]


def _violate(sim: Any, kind: str, height: int, detail: str, nodes: Iterable[str]) -> None:
    violation = Violation(kind, height, sim.now, detail, tuple(sorted(nodes)), history_of(sim, height))
    raise InvariantViolation(f"{kind} violated at height {height} (t={sim.now:.3f}): {detail}", violation)


class SafetyChecker:
    """No two different values committed at one height on correct nodes."""

    def __init__(self, correct: Iterable[str] | None = None) -> None:
        self.correct = None if correct is None else frozenset(correct)
        self._seen: dict[str, int] = {}
        self._decided: dict[int, tuple[str, bytes]] = {}

    def __call__(self, sim: Any) -> None:
        for node, commits in sim.commits.items():
            if self.correct is not None and node not in self.correct:
                continue
            start = self._seen.get(node, 0)
            for c in commits[start:]:
                first = self._decided.setdefault(c.height, (node, c.value))
                if first[1] != c.value:
                    _violate(sim, "safety", c.height,
                             f"{first[0]} committed {first[1][:24]!r} but {node} committed "
                             f"{c.value[:24]!r}", (first[0], node))
            self._seen[node] = len(commits)


class ValidityChecker:
    """Every committed value passed ``check(height, value)`` (the application's rule)."""

    def __init__(self, check: Callable[[int, bytes], str | None],
                 correct: Iterable[str] | None = None) -> None:
        self.check = check
        self.correct = None if correct is None else frozenset(correct)
        self._seen: dict[str, int] = {}

    def __call__(self, sim: Any) -> None:
        for node, commits in sim.commits.items():
            if self.correct is not None and node not in self.correct:
                continue
            for c in commits[self._seen.get(node, 0):]:
                reason = self.check(c.height, c.value)
                if reason is not None:
                    _violate(sim, "validity", c.height, f"{node} committed an invalid value: {reason}",
                             (node,))
            self._seen[node] = len(commits)


class LivenessChecker:
    """After ``stable_after``, every correct live node passes the best height within ``bound``."""

    def __init__(self, stable_after: float, bound: float, correct: Iterable[str] | None = None) -> None:
        self.stable_after = stable_after
        self.bound = bound
        self.correct = None if correct is None else frozenset(correct)
        self._window: tuple[float, int] | None = None   # (start, best height then)
        self.windows_passed = 0

    def _nodes(self, sim: Any) -> list[str]:
        return [n for n in sim.commits if (self.correct is None or n in self.correct)]

    def __call__(self, sim: Any) -> None:
        if sim.now < self.stable_after:
            return
        heights = sim.heights()
        if self._window is None:
            self._window = (max(sim.now, self.stable_after),
                            max((heights[n] for n in self._nodes(sim)), default=0))
            return
        start, base = self._window
        live = [n for n in self._nodes(sim) if n not in sim.crashed and n not in sim.paused]
        if all(heights[n] > base for n in live):
            self.windows_passed += 1
            self._window = (sim.now, max(heights[n] for n in live) if live else base)
        elif sim.now > start + self.bound:
            stuck = [n for n in live if heights[n] <= base]
            _violate(sim, "liveness", base + 1,
                     f"{', '.join(stuck)} did not commit past height {base} within {self.bound} s "
                     f"after t={start:.3f}", stuck)


def standard_checkers(correct: Iterable[str], check: Callable[[int, bytes], str | None] | None = None,
                      stable_after: float | None = None, bound: float = 60.0) -> list[Any]:
    """Safety, validity (when ``check`` is given) and liveness (when ``stable_after`` is)."""
    correct = frozenset(correct)
    out: list[Any] = [SafetyChecker(correct)]
    if check is not None:
        out.append(ValidityChecker(check, correct))
    if stable_after is not None:
        out.append(LivenessChecker(stable_after, bound, correct))
    return out


def run_checked(sim: Any, until: float, **kwargs: Any) -> Violation | None:
    """Run ``sim`` until ``until`` (its checkers attached); the violation or None."""
    try:
        sim.run(until=until, **kwargs)
    except InvariantViolation as exc:
        return exc.obj
    return None


@dataclass(slots=True)
class MinimalHistory:
    violation: Violation
    removed: int          # messages of the violating height shown unnecessary
    runs: int             # simulations run while minimising
    #: True when the last pass removed nothing (1-minimal); False when max_runs cut it short
    complete: bool = True
    #: the message keys suppressed in the run that produced ``violation``
    suppressed: frozenset[bytes] = frozenset()

    @property
    def history(self) -> list[Any]:
        return self.violation.history

    def format(self) -> str:
        v = self.violation
        return (f"{v.kind} violation at height {v.height}, t={v.time:.3f}: {v.detail}\n"
                f"{len(v.history)} messages of height {v.height} (1-minimal; {self.removed} "
                f"removed in {self.runs} re-runs):\n{v.format_history()}")


def minimise(make_sim: Callable[[], Any], until: float, max_runs: int = 400) -> MinimalHistory | None:
    """The 1-minimal history of the violation ``make_sim()`` runs into (None if no violation).

    ``make_sim`` must build the same scenario every time (same seed, engines, schedule and
    checkers): it is called once per re-run, and ``sim.suppress`` is set on what it returns.
    """
    def attempt(suppress: set[bytes]) -> Violation | None:
        sim = make_sim()
        sim.suppress = set(suppress)
        return run_checked(sim, until)

    current = attempt(set())
    runs = 1
    if current is None:
        return None
    suppressed: set[bytes] = set()
    changed = True
    complete = False
    while changed and runs < max_runs:
        changed = False
        for d in list(current.history):
            if runs >= max_runs:
                break
            if d.key in suppressed:
                continue
            trial = attempt(suppressed | {d.key})
            runs += 1
            if trial is not None and (trial.kind, trial.height) == (current.kind, current.height) \
                    and len(trial.history) < len(current.history):
                suppressed.add(d.key)
                current = trial
                changed = True
        else:
            complete = not changed
    return MinimalHistory(current, len(suppressed), runs, complete, frozenset(suppressed))
