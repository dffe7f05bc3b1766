"""The simulator's own machinery with a tiny ping engine: link rules, pause holds messages,
partitions, suppression by message key, delivery records, commit times, determinism."""
from __future__ import annotations

from dataclasses import dataclass

from labchain.consensus.engine import Broadcast, Commit, Engine, SetTimer, register_messages
from labchain.consensus.faults import FaultAction, FaultSchedule, LinkRule
from labchain.consensus.sim import Simulation, message_key
from labchain.core.encoding import Record, UInt


@dataclass(frozen=True, slots=True)
class Ping(Record):
    height: int
    COMMAND = b"test.ping"
    ENCODING = (("height", UInt(4)),)


@dataclass(frozen=True, slots=True)
class Pong(Record):
    height: int
    COMMAND = b"test.pong"
    ENCODING = (("height", UInt(4)),)


register_messages(Ping, Pong)


class PingEngine(Engine):
    """Every 0.1 s broadcast Ping(k) and Pong(k); commit k when a Ping(k) arrives."""
    name = "ping"

    def __init__(self, node_id, validators):
        super().__init__(node_id, validators, None)
        self.k = 0
        self.got: list[tuple[str, int, float]] = []

    def start(self, now):
        return [SetTimer("tick", 0.1)]

    def on_timer(self, name, now):
        self.k += 1
        return [Broadcast(Ping(self.k)), Broadcast(Pong(self.k)), SetTimer("tick", 0.1)]

    def on_message(self, sender, message, now):
        self.got.append((sender, message.height, now))
        return [Commit(message.height, sender.encode())] if isinstance(message, Ping) and sender == "a" else []

    def status(self):
        return {"k": self.k}


def sim(seed=0, **kw):
    nodes = ("a", "b", "c")
    return Simulation({n: PingEngine(n, nodes) for n in nodes}, seed=seed, **kw)


def test_every_message_is_recorded_with_its_height_and_key():
    s = sim().run(until=0.35)
    assert s.messages_sent == 3 * 3 * 2 * 2      # 3 ticks x 3 nodes x 2 types x 2 peers
    d = s.deliveries[0]
    assert d.height == 1 and d.command in ("test.ping", "test.pong") and len(d.key) == 16
    assert d.arrives > d.sent and not d.dropped
    assert s.commit_times["b"] and len(s.commit_times["b"]) == len(s.commits["b"])


def test_a_drop_rule_selects_by_message_type_and_sender():
    s = sim()
    s.link_rules.append(LinkRule("drop", frozenset({"test.ping"}), frozenset({"a"})))
    s.run(until=0.55)
    pings_from_a = [d for d in s.deliveries if d.sender == "a" and d.command == "test.ping"]
    assert pings_from_a and all(d.dropped for d in pings_from_a)
    assert not any(d.dropped for d in s.deliveries if d not in pings_from_a)
    assert s.commits["b"] == []            # b commits only on a's pings


def test_a_paused_node_gets_everything_in_order_after_resume():
    s = sim()
    FaultSchedule((FaultAction(0.15, "pause", ("c",)), FaultAction(0.62, "resume", ("c",)))).apply(s)
    s.run(until=0.6)
    during = [g for g in s.engines["c"].got if g[2] > 0.15]
    assert during == [] and s.engines["c"].k == 1         # its own timer did not fire either
    s.run(until=0.7)
    late = [g for g in s.engines["c"].got if g[2] >= 0.62]
    assert [h for sender, h, _ in late if sender == "a"][:4] == [2, 2, 3, 3]   # ping+pong, in order


def test_a_crashed_node_loses_messages_and_a_partition_cuts_links():
    s = sim()
    FaultSchedule((FaultAction(0.15, "crash", ("c",)), FaultAction(0.45, "recover", ("c",)),
                   FaultAction(0.0, "partition", groups=(("a",), ("b", "c"))))).apply(s)
    s.run(until=0.8)
    assert not any(sender == "a" for sender, _, _ in s.engines["b"].got)
    assert not any(0.16 < t < 0.45 for _, _, t in s.engines["c"].got)


def test_suppressing_a_key_removes_exactly_that_message():
    first = sim().run(until=0.15)
    victim = first.deliveries[0]
    again = sim()
    again.suppress = {victim.key}
    again.run(until=0.15)
    dropped = [d for d in again.deliveries if d.dropped]
    assert [(d.sender, d.receiver, d.command) for d in dropped] == [(victim.sender, victim.receiver, victim.command)]
    assert message_key(victim.sender, victim.receiver, b"x") != victim.key


def test_the_same_seed_replays_the_same_timings():
    a, b, c = sim(7).run(until=1.0), sim(7).run(until=1.0), sim(8).run(until=1.0)
    times = lambda s: [(d.sender, d.receiver, d.arrives) for d in s.deliveries]  # noqa: E731
    assert times(a) == times(b) and times(a) != times(c)


def test_run_stopped_by_a_condition_keeps_the_clock_at_that_event():
    s = sim().run(until=100.0, stop=lambda s: s.messages_sent >= 6)
    assert s.now < 1.0
