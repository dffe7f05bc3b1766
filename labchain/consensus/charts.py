"""Figures for notebooks: a message-sequence chart of one height, and cost vs validator count.

Terminology
-----------
message-sequence chart (MSC)
    One vertical line per node, time flowing down; each message of the height is an arrow
    from (sender, sent) to (receiver, arrives), coloured by type; a dropped message is a
    dashed arrow ending in a cross; a commit is a dot on the committing node's line.
scaling curve
    For each validator count n: commit latency per height (virtual seconds between successive
    commits) and messages sent per height. All-to-all voting makes the message count grow as
    n^2 (TBFT sends about 2n(n-1) votes plus n-1 proposal copies per height).

Simplifications: the charts read only ``sim.deliveries`` (so the run needs
``record_messages=True``) and ``sim.commit_times``; matplotlib is imported when a chart is
drawn (the ``lab`` extra), never by the simulator.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from labchain.consensus.engine import ConsensusError

COLOURS = {"proposal": "tab:blue", "prevote": "tab:orange", "precommit": "tab:green",
           "decision": "tab:purple", "syncreq": "tab:gray"}


def _colour(command: str) -> str:
    return COLOURS.get(command.rsplit(".", 1)[-1], "tab:red")


def sequence_chart(sim: Any, height: int, ax: Any = None, nodes: Sequence[str] | None = None):
    """Draw the messages of ``height`` (see the module docstring); returns the matplotlib Axes."""
    import matplotlib.pyplot as plt

    messages = [d for d in sim.deliveries if d.height == height]
    if not messages:
        raise ConsensusError(f"the simulation recorded no message of height {height} "
                             f"(was it run with record_messages=True, and that far?)", height)
    nodes = list(nodes or sorted(sim.engines))
    x = {node: i for i, node in enumerate(nodes)}
    if ax is None:
        _, ax = plt.subplots(figsize=(1.6 * len(nodes) + 2, 6))
    start = min(d.sent for d in messages)
    ms = lambda t: (t - start) * 1000.0  # noqa: E731  (milliseconds since the first message)
    end = max(d.arrives for d in messages)
    for node in nodes:
        ax.plot([x[node], x[node]], [0, ms(end) * 1.05], color="black", linewidth=0.8)
    seen: set[str] = set()
    for d in messages:
        if d.sender not in x or d.receiver not in x:
            continue
        kind = d.command.rsplit(".", 1)[-1]
        label = None if kind in seen else kind
        seen.add(kind)
        ax.annotate("", xy=(x[d.receiver], ms(d.arrives)), xytext=(x[d.sender], ms(d.sent)),
                    arrowprops={"arrowstyle": "->", "color": _colour(d.command),
                                "linestyle": "--" if d.dropped else "-", "alpha": 0.8})
        if d.dropped:
            ax.plot([x[d.receiver]], [ms(d.arrives)], marker="x", color=_colour(d.command))
        ax.plot([], [], color=_colour(d.command), label=label)
    for node in nodes:
        for c, t in zip(sim.commits.get(node, []), sim.commit_times.get(node, [])):
            if c.height == height:
                ax.plot([x[node]], [ms(t)], marker="o", color="black")
    ax.set_xticks(range(len(nodes)), nodes)
    ax.invert_yaxis()
    ax.set_ylabel("time since the first message of the height (ms)")
    ax.set_title(f"height {height}: {len(messages)} messages")
    ax.legend(loc="lower right", fontsize="small")
    return ax


@dataclass(frozen=True, slots=True)
class ScalingPoint:
    n: int
    heights: int
    messages_per_height: float
    latency: float            # mean virtual seconds per committed height


def measure(make_sim: Callable[[int], Any], ns: Sequence[int], heights: int) -> list[ScalingPoint]:
    """Run ``make_sim(n)`` until every node committed ``heights``; one point per n."""
    points = []
    for n in ns:
        sim = make_sim(n)
        sim.run(stop=lambda s: min(s.heights().values()) >= heights)
        done = min(sim.heights().values())
        if done < heights:
            raise ConsensusError(f"n={n}: only {done} of {heights} heights committed", n)
        times = sim.commit_times[min(sim.commit_times)]
        points.append(ScalingPoint(n, done, sim.messages_sent / done, times[done - 1] / done))
    return points


def scaling_chart(points: Sequence[ScalingPoint], fig: Any = None):
    """Messages per height (with the n^2 reference) and commit latency vs n; returns the Figure."""
    import matplotlib.pyplot as plt

    fig = fig or plt.figure(figsize=(10, 4))
    left, right = fig.subplots(1, 2)
    ns = [p.n for p in points]
    left.plot(ns, [p.messages_per_height for p in points], "o-", label="measured")
    scale = points[-1].messages_per_height / (ns[-1] ** 2)
    left.plot(ns, [scale * n * n for n in ns], "--", color="gray", label="c * n^2")
    left.set_xlabel("validators n")
    left.set_ylabel("messages per height")
    left.legend()
    right.plot(ns, [p.latency * 1000 for p in points], "o-")
    right.set_xlabel("validators n")
    right.set_ylabel("commit latency per height (ms, virtual)")
    fig.tight_layout()
    return fig
