"""One student's testnet in containers: it runs, it is locked down, it survives a crash, and bad
input leaves nothing behind."""
from __future__ import annotations

import ipaddress
import json
import subprocess
import sys

import pytest

from labchain.deploy.images import ImageMissingError
from labchain.node.process import NodeStartError
from labchain.core.params import COIN
from labchain.testnet import Testnet
from labchain.testnet import docker as backend

from dockerkit import leftovers, wait_until


def attach(student: str, nodes: int) -> Testnet:
    """A Testnet handle on a class testnet, as the lab container gets it."""
    st = backend.status(student, with_memory=False)
    state = backend.testnet_state(student, ipaddress.ip_network(st.subnet), backend.DockerSettings(), nodes)
    return Testnet.connect(json.dumps(state))


def test_student_testnet_mines_syncs_and_sees_a_transaction(docker_client, node_image, student_ids):
    (sid,) = student_ids(1)
    backend.up(sid, nodes=3, client=docker_client)
    tn = attach(sid, 3)
    tn.wait_connected()
    tn.nodes[0].rpc.generate(3)
    tn.sync_blocks()
    destination = tn.nodes[2].rpc.listaccounts()[1]["address"]
    txid = tn.nodes[0].rpc.sendtoaddress(0, destination, 2 * COIN)
    tn.sync_mempools()
    tn.nodes[0].rpc.generate(1)
    tn.sync_blocks()
    for node in tn.nodes:
        assert node.rpc.getblockcount() == 4
        assert node.rpc.gettransaction(txid)["confirmations"] >= 1


def test_every_container_has_limits_and_labels(docker_client, node_image, lab_image, student_ids):
    (sid,) = student_ids(1)
    backend.up(sid, nodes=2, with_lab=True, client=docker_client)
    containers = docker_client.containers.list(all=True, filters={"label": f"{backend.LABEL_STUDENT}={sid}"})
    assert sorted(c.name for c in containers) == [f"lc-{sid}-lab", f"lc-{sid}-node0", f"lc-{sid}-node1"]
    for c in containers:
        host = c.attrs["HostConfig"]
        assert host["Memory"] > 0 and host["MemorySwap"] == host["Memory"], c.name
        assert host["NanoCpus"] > 0 and host["PidsLimit"] > 0, c.name
        assert host["CapDrop"] == ["ALL"] and not host["CapAdd"], c.name
        assert "no-new-privileges" in host["SecurityOpt"], c.name
        assert host["ReadonlyRootfs"] is True and "/tmp" in host["Tmpfs"], c.name
        assert host["RestartPolicy"]["Name"] == "unless-stopped", c.name
        assert not host["Privileged"], c.name
        mounts = c.attrs["Mounts"]
        assert all(m["Type"] == "volume" for m in mounts), c.name
        assert not any("docker.sock" in (m.get("Source") or "") for m in mounts), c.name
        assert c.attrs["Config"]["User"] not in ("", "root", "0"), c.name
        assert c.labels[backend.LABEL_STUDENT] == sid and c.labels[backend.LABEL_TESTNET] == sid
    node0 = docker_client.containers.get(f"lc-{sid}-node0")
    assert node0.labels[backend.LABEL_NODE] == "0"
    assert [m["Name"] for m in node0.attrs["Mounts"]] == [f"lc-{sid}-node0-data"]
    net = docker_client.networks.get(f"lc-{sid}")
    assert net.attrs["Internal"] is True
    subnet = ipaddress.ip_network(net.attrs["IPAM"]["Config"][0]["Subnet"])
    assert subnet.prefixlen == 28 and subnet.subnet_of(ipaddress.ip_network(backend.DockerSettings().subnet_pool))


def test_crashed_node_comes_back_with_its_chain_and_resyncs(docker_client, node_image, student_ids):
    (sid,) = student_ids(1)
    backend.up(sid, nodes=2, client=docker_client)
    tn = attach(sid, 2)
    tn.nodes[0].rpc.generate(4)
    tn.sync_blocks()
    node0 = docker_client.containers.get(f"lc-{sid}-node0")
    node1 = docker_client.containers.get(f"lc-{sid}-node1")
    node0.stop(timeout=10)                  # no peer to learn from: the chain must come off disk
    # a crash (or the OOM killer): the node process dies by SIGKILL, the container's init exits
    # with it. (`docker kill` counts as a manual stop, which restart policies deliberately respect.)
    node1.exec_run(["python3", "-c", "import os, signal; os.kill(-1, signal.SIGKILL)"])

    def back():
        node1.reload()
        return node1.attrs["RestartCount"] >= 1 and node1.status == "running"
    wait_until(back, 60, "the restart policy to bring node1 back")
    backend.wait_ready(node1, tn.nodes[1].rpc_url)
    assert tn.nodes[1].rpc.getblockcount() == 4       # from its volume
    node0.start()
    backend.wait_ready(node0, tn.nodes[0].rpc_url)
    tn.nodes[0].rpc.generate(2)
    tn.wait_connected()
    tn.sync_blocks()
    assert tn.nodes[1].rpc.getblockcount() == 6


def test_up_twice_changes_nothing(docker_client, node_image, student_ids):
    (sid,) = student_ids(1)
    backend.up(sid, nodes=2, client=docker_client)
    before = {c.name: c.id for c in backend._containers(docker_client, sid)}
    backend.up(sid, nodes=2, client=docker_client)
    assert {c.name: c.id for c in backend._containers(docker_client, sid)} == before
    with pytest.raises(backend.DockerTestnetError, match="already has a testnet with 2 nodes"):
        backend.up(sid, nodes=3, client=docker_client)


def test_testnet_api_drives_docker_nodes(docker_client, node_image, student_ids, tmp_path):
    (student,) = student_ids(1)
    with Testnet.start(nodes=2, backend="docker", dir=tmp_path, student=student) as tn:
        assert tn.backend.student == student
        tn.nodes[0].rpc.generate(2)
        tn.sync_blocks()
        tn.kill(1)
        assert not tn.nodes[1].running          # stays down: kill turns the restart policy off
        tn.restart(1)
        tn.sync_blocks()
        assert tn.nodes[1].rpc.getblockcount() == 2
    assert leftovers(docker_client, student) == []


# --- bad input ----------------------------------------------------------------------------

def test_unknown_or_invalid_student_is_a_clear_error(docker_client, student_ids):
    (sid,) = student_ids(1)
    with pytest.raises(backend.UnknownStudentError, match=f"no testnet for student '{sid}'"):
        backend.status(sid, client=docker_client)
    with pytest.raises(backend.UnknownStudentError):
        backend.down(sid, client=docker_client)
    with pytest.raises(backend.StudentNameError, match="not a valid student id"):
        backend.up("Robert'); DROP", client=docker_client)


def test_missing_image_creates_nothing(docker_client, student_ids):
    (sid,) = student_ids(1)
    settings = backend.DockerSettings(node_image="labchain/node:0.0.0-never-built")
    with pytest.raises(ImageMissingError, match="labchain images build"):
        backend.up(sid, nodes=2, settings=settings, client=docker_client)
    assert leftovers(docker_client, sid) == []


def test_exhausted_subnet_pool_creates_nothing(docker_client, node_image, student_ids):
    first, second = student_ids(2)
    st = backend.up(first, nodes=1, client=docker_client)
    settings = backend.DockerSettings(subnet_pool=st.subnet)     # a pool of exactly one /28, taken
    with pytest.raises(backend.SubnetPoolExhaustedError, match="no free /28"):
        backend.up(second, nodes=1, settings=settings, client=docker_client)
    assert leftovers(docker_client, second) == []


def test_node_that_cannot_start_is_reported_and_removed(docker_client, node_image, student_ids):
    (sid,) = student_ids(1)
    settings = backend.DockerSettings(params="no-such-network")
    with pytest.raises(NodeStartError, match=f"lc-{sid}-node0"):
        backend.up(sid, nodes=1, settings=settings, client=docker_client, timeout=30)
    assert leftovers(docker_client, sid) == []


def test_cli_up_with_backend_docker_and_student_then_down(docker_client, node_image, student_ids, tmp_path):
    (student,) = student_ids(1)
    d = str(tmp_path / "cli")
    run = lambda *a: subprocess.run([sys.executable, "-m", "labchain.cli", "testnet", *a],  # noqa: E731
                                    capture_output=True, text=True, timeout=300)
    up = run("up", "--backend", "docker", "--student", student, "--nodes", "2", "--dir", d)
    try:
        assert up.returncode == 0, up.stderr
        names = {c.name for c in docker_client.containers.list(filters={"label": f"labchain.student={student}"})}
        assert len(names) == 2
    finally:
        down = run("down", "--dir", d)
    assert down.returncode == 0, down.stderr
    assert leftovers(docker_client, student) == []
