"""`swarm.down` when `docker stack rm` refuses the network because a task is still being reaped
(CI, under load: "Failed to remove network ...: is in use by task ..."). A fake engine beside
the real test (tests/docker/test_docker_swarm.py, which met the race): the stack counts as
down once its containers are gone and the leftover network is removed; before, the refusal of
`docker stack rm` was the class-down failure of that student."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from labchain.deploy import swarm


class FakeNetwork:
    def __init__(self, engine):
        self.engine = engine

    def remove(self):
        self.engine.network = None


class FakeEngine:
    """Containers of the stack's tasks vanish after two polls; the network stays until removed."""

    def __init__(self):
        self.network, self.polls = FakeNetwork(self), 0
        self.containers = SimpleNamespace(list=self._containers)
        self.networks = SimpleNamespace(list=lambda filters: [self.network] if self.network else [])
        self.volumes = SimpleNamespace(list=lambda filters: [])
        self.services = SimpleNamespace(list=lambda filters: [])

    def _containers(self, all, filters):
        self.polls += 1
        return ["task"] if self.polls <= 2 else []


def test_a_network_still_in_use_when_the_stack_is_removed_is_removed_once_its_tasks_are_gone(monkeypatch):
    engine = FakeEngine()

    def stack_rm(*args, **kw):
        raise swarm.SwarmError("docker stack rm failed: Failed to remove network x: Error response "
                               "from daemon: network x is in use by task y", args)

    monkeypatch.setattr(swarm, "_docker", stack_rm)
    monkeypatch.setattr(swarm.time, "sleep", lambda s: None)
    assert swarm.down("s001", client=engine, timeout=30) == 1     # the network
    assert engine.network is None


def test_any_other_refusal_of_stack_rm_is_still_an_error(monkeypatch):
    def stack_rm(*args, **kw):
        raise swarm.SwarmError("docker stack rm failed: permission denied", args)

    monkeypatch.setattr(swarm, "_docker", stack_rm)
    with pytest.raises(swarm.SwarmError, match="permission denied"):
        swarm.down("s001", client=FakeEngine(), timeout=30)
