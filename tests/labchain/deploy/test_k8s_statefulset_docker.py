"""The StatefulSet node wrapper (``node_script``) run under plain Docker with the pod hostnames
a StatefulSet gives (``nodes-0``, ``nodes-1``, ``nodes-2``) and the DNS names its headless
Service gives (``nodes-<i>.nodes``, here as network aliases): each container learns its index
and peers from its hostname alone, and the three nodes peer and sync. No cluster involved."""
from __future__ import annotations

import secrets
import time

import pytest

from labchain.deploy.k8s.render import STS, node_script, student_objects
from labchain.testnet import docker as backend

from needs import require

NODES = 3


def _built_node_image() -> str:
    from labchain import images

    return images.build_images(["node"])[0].tag


@pytest.fixture()
def statefulset_under_docker():
    require("docker")
    client = backend.connect()
    image = _built_node_image()
    tag = "k8s-" + secrets.token_hex(3)
    labels = {backend.LABEL_STUDENT: tag, backend.LABEL_TESTNET: tag, backend.LABEL_ROLE: "k8s-wrapper"}
    network = client.networks.create(f"lc-{tag}", driver="bridge", internal=True, labels=labels)
    containers = []
    try:
        pod = next(o for o in student_objects(tag) if o["kind"] == "StatefulSet")["spec"]["template"]["spec"]
        command = pod["containers"][0]["command"]          # the rendered command, as a pod runs it
        assert command == ["/bin/sh", "-c", node_script(NODES)]
        for i in range(NODES):
            host = f"{STS}-{i}"
            created = client.api.create_container(
                image, entrypoint=command[:2], command=command[2:], hostname=host, labels=labels,
                user=str(pod["securityContext"]["runAsUser"]),
                host_config=client.api.create_host_config(
                    network_mode=network.name, read_only=True, cap_drop=["ALL"],
                    tmpfs={"/tmp": "size=16m", "/data": "size=64m,uid=10001"}),
                networking_config=client.api.create_networking_config({network.name: client.api.create_endpoint_config(
                    aliases=[f"{host}.{STS}"])}))
            client.api.start(created["Id"])
            containers.append(client.containers.get(created["Id"]))
        yield client, containers
    finally:
        for c in containers:
            c.remove(force=True, v=True)
        network.remove()


def _rpc(container, method, *params):
    from labchain.deploy.swarm import node_rpc   # RPC inside the container, on its localhost

    return node_rpc(container, method, *params)


def _wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except Exception:  # noqa: BLE001 - a node still starting
            pass
        time.sleep(0.5)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def test_statefulset_pods_learn_index_and_peers_from_hostnames_and_sync(statefulset_under_docker):
    client, containers = statefulset_under_docker
    _wait(lambda: all(_rpc(c, "getblockcount") == 0 for c in containers), 90, "every node to answer RPC")
    infos = [_rpc(c, "getpeerinfo") for c in containers]
    assert all(len(peers) >= 1 for peers in infos), infos
    _rpc(containers[0], "generate", 3)
    _wait(lambda: [_rpc(c, "getblockcount") for c in containers] == [3, 3, 3], 120, "all nodes at height 3")
    tips = {_rpc(c, "getbestblockhash") for c in containers}
    assert len(tips) == 1
    # each took its index from the hostname: its command line says so
    for i, c in enumerate(containers):
        code, out = c.exec_run(["sh", "-c", "tr '\\0' ' ' < /proc/1/cmdline; cat /proc/*/cmdline | tr '\\0' ' '"])
        assert f"--node-index {i} " in out.decode(), out.decode()[:300]
