"""``labchain class up --engine swarm`` on a one-node Docker Swarm: two students' stacks come up
and sync, cannot reach each other, a killed node task is restarted by Swarm and catches up; the
stack file carries the isolation settings; a non-manager engine is refused with a sentence."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from labchain.deploy import classroom, swarm
from labchain.testnet import docker as backend

from dockerkit import probe, wait_until
from needs import require
from test_docker_classroom import labchain_cli

pytestmark = pytest.mark.long

SWARM_POOL = "10.220.0.0/16"   # overlay subnets, away from the Docker backend's 10.210.0.0/16
ROSTER = Path(__file__).with_name("swarm-roster.csv")
_refusal: list[subprocess.CompletedProcess] = []


def _swarm_state(client) -> str:
    return (client.info().get("Swarm") or {}).get("LocalNodeState", "inactive")


@pytest.fixture(scope="module")
def swarm_manager(docker_client):
    """This engine as a swarm manager: ``docker swarm init`` on loopback if it is not one, and
    afterwards ``docker swarm leave --force`` (plus the docker_gwbridge it leaves) only if this
    fixture made the swarm."""
    require("docker")
    require("root")   # docker swarm init changes the engine
    made = _swarm_state(docker_client) != "active"
    had_gwbridge = bool(docker_client.networks.list(names=["docker_gwbridge"]))
    if made:  # before the swarm exists: what the command line says on a plain engine
        _refusal.append(labchain_cli("class", "up", "--engine", "swarm", "--roster", str(ROSTER)))
        subprocess.run(["docker", "swarm", "init", "--advertise-addr", "127.0.0.1",
                        "--default-addr-pool", SWARM_POOL], check=True, capture_output=True)
    yield docker_client
    if made:
        subprocess.run(["docker", "swarm", "leave", "--force"], check=True, capture_output=True)
        if not had_gwbridge:
            for net in docker_client.networks.list(names=["docker_gwbridge"]):
                net.remove()


@pytest.fixture()
def swarm_students(swarm_manager, student_ids):
    """Like ``student_ids``, with the stacks removed (``docker stack rm``) before the generic
    cleanup runs (it would fight Swarm's restarts)."""
    made: list[str] = []

    def make(n: int):
        made.extend(student_ids(n))
        return made[-n:]

    yield make
    for sid in made:
        swarm.down(sid, client=swarm_manager, missing_ok=True)


def heights(client, student: str, nodes: int) -> list[int | None]:
    return [swarm.height(client, student, i) for i in range(nodes)]


def test_two_stacks_sync_are_isolated_and_a_killed_task_is_restarted_and_catches_up(
        swarm_manager, node_image, swarm_students, tmp_path):
    client = swarm_manager
    a, b = swarm_students(2)
    (tmp_path / "roster.csv").write_text(f"student\n{a}\n{b}\n")
    result = classroom.class_up(classroom.read_roster(tmp_path / "roster.csv"), nodes=3, parallel=2,
                                progress=False, engine="swarm")
    assert result.ok, result.failed
    assert sorted(set(swarm.students(client)) & {a, b}) == sorted([a, b])

    # the isolation settings reached the task containers
    config = swarm.task_container(client, a, 1).attrs["HostConfig"]
    assert config["ReadonlyRootfs"] is True and config["CapDrop"] == ["ALL"]
    assert config["Memory"] == 192 * 2**20 and config["NanoCpus"] == 500_000_000

    # mining on node0 of each stack reaches the other nodes of that stack only
    swarm.node_rpc(swarm.task_container(client, a, 0), "generate", 4)
    swarm.node_rpc(swarm.task_container(client, b, 0), "generate", 2)
    wait_until(lambda: heights(client, a, 3) == [4, 4, 4], 120, f"{a}'s nodes at height 4")
    wait_until(lambda: heights(client, b, 3) == [2, 2, 2], 120, f"{b}'s nodes at height 2")

    # a probe on a's overlay reaches a's nodes by name, not b's (by name or by address)
    b_addr = swarm.task_container(client, b, 0).attrs["NetworkSettings"]["Networks"][
        f"{swarm.stack_name(b)}_net"]["IPAddress"]
    net_a = swarm.find_network(client, a).name
    seen = probe(client, node_image.tag, a, net_a,
                 [f"node0:{backend.RPC_PORT}", f"{b_addr}:{backend.P2P_PORT}"])
    assert seen == {f"node0:{backend.RPC_PORT}": "connected", f"{b_addr}:{backend.P2P_PORT}": "blocked"}
    for name in (swarm.service_name(b, 0), swarm.service_name(a, 0)):   # b's name is unknown in a
        code, _ = swarm.task_container(client, a, 1).exec_run(
            ["python3", "-c", f"import socket; socket.getaddrinfo({name!r}, 0)"])
        assert (code == 0) == (name == swarm.service_name(a, 0)), name

    # docker kill the task of node1: Swarm starts a new task on the same volume; it catches up
    killed = swarm.task_container(client, a, 1)
    killed.kill()
    wait_until(lambda: (c := swarm.task_container(client, a, 1)) is not None and c.id != killed.id,
               120, "Swarm to start a new task for node1")
    swarm.node_rpc(swarm.task_container(client, a, 0), "generate", 3)
    wait_until(lambda: heights(client, a, 3) == [7, 7, 7], 180, "the restarted node1 at height 7")

    status_result, statuses = classroom.class_status([a, b], engine="swarm")
    assert status_result.ok and [n.height for n in statuses[b].nodes] == [2, 2, 2]

    down = classroom.class_down([a, b], progress=False, engine="swarm")
    assert down.ok
    assert not client.services.list(filters={"label": f"{backend.LABEL_TESTNET}={a}"})
    assert not client.volumes.list(filters={"label": f"{backend.LABEL_TESTNET}={a}"})
    assert swarm.find_network(client, a) is None


def test_the_stack_file_names_every_isolation_setting():
    doc = swarm.compose("s001", 2)
    node = doc["services"]["node1"]
    assert node["command"][-2:] == ["--peer", f"node0:{backend.P2P_PORT}"]
    assert node["deploy"]["endpoint_mode"] == "dnsrr" and node["read_only"] and node["cap_drop"] == ["ALL"]
    assert "pids" not in node["deploy"]["resources"]["limits"]   # Compose v3 refuses it
    assert doc["networks"]["net"]["internal"] is True and doc["networks"]["net"]["driver"] == "overlay"
    assert node["volumes"][0] == {"type": "volume", "source": "node1-data", "target": "/data"}


def test_class_up_on_an_engine_that_is_not_a_swarm_manager_is_refused_with_the_fix(swarm_manager):
    if not _refusal:
        pytest.skip("this engine was a swarm manager already: no plain engine to ask")
    done = _refusal[0]
    assert done.returncode != 0
    assert "not a swarm manager" in done.stderr and "docker swarm init --advertise-addr" in done.stderr
    assert not swarm_manager.services.list(filters={"label": backend.LABEL_TESTNET})
