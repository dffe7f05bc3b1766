"""Isolation: a student's containers reach their own nodes and nothing else -- not another
student's nodes, not the host, not the outside.

Every target is on this machine (other containers, the host's bridge addresses); each
'blocked' is paired with a control showing the same target *is* reachable from where it
should be, so a dead target cannot make a test pass. Nothing here sends a packet off the host:
"no route outside" is checked as "no default route" inside the container.
"""
from __future__ import annotations

import ipaddress
import json
import urllib.error
import urllib.request

import pytest

from labchain.testnet import docker as backend

from dockerkit import PROBE, listener, probe, wait_until
from needs import needs_root

PORT = 18443


def subnet_of(client, student: str) -> ipaddress.IPv4Network:
    net = client.networks.get(f"lc-{student}")
    return ipaddress.ip_network(net.attrs["IPAM"]["Config"][0]["Subnet"])


def test_student_cannot_reach_another_students_nodes(docker_client, node_image, student_ids):
    a, b = student_ids(2)
    for sid in (a, b):
        backend.up(sid, nodes=1, client=docker_client)
    net_a, net_b = subnet_of(docker_client, a), subnet_of(docker_client, b)
    # stand-in services at .13 of each network, plus the real node 0 RPC of b
    listener(docker_client, node_image.tag, a, f"lc-{a}", str(net_a[13]), PORT)
    listener(docker_client, node_image.tag, b, f"lc-{b}", str(net_b[13]), PORT)
    b_service, b_node = f"{net_b[13]}:{PORT}", f"{backend.node_address(net_b, 0)}:{PORT}"
    a_service = f"{net_a[13]}:{PORT}"

    from_b = probe(docker_client, node_image.tag, b, f"lc-{b}", [b_service, b_node])
    assert from_b == {b_service: "connected", b_node: "connected"}          # controls
    from_a = probe(docker_client, node_image.tag, a, f"lc-{a}", [a_service, b_service, b_node])
    assert from_a[a_service] == "connected"
    assert from_a[b_service] != "connected" and from_a[b_node] != "connected"


def test_student_container_cannot_reach_beyond_its_network(docker_client, node_image, student_ids):
    """The stand-in for 'the outside' is a service on Docker's default bridge: forwarded like
    any off-network destination (Docker 20.10 gives internal networks a default route via the
    host; its forwarding rules drop what leaves the subnet), yet it stays on this machine."""
    (sid,) = student_ids(1)
    backend.up(sid, nodes=1, client=docker_client)
    outside = listener(docker_client, node_image.tag, sid, "bridge", None, PORT)
    outside.reload()
    target = f"{outside.attrs['NetworkSettings']['Networks']['bridge']['IPAddress']}:{PORT}"
    assert probe(docker_client, node_image.tag, sid, "bridge", [target]) == {target: "connected"}
    assert probe(docker_client, node_image.tag, sid, f"lc-{sid}", [target]) == {target: "blocked"}


@needs_root   # the host firewall rules
def test_student_container_cannot_reach_the_host(docker_client, node_image, student_ids, host_listener):
    port, seen = host_listener
    (sid,) = student_ids(1)
    backend.up(sid, nodes=1, client=docker_client)
    gateway = str(subnet_of(docker_client, sid)[1])
    docker0 = str(ipaddress.ip_network(
        docker_client.networks.get("bridge").attrs["IPAM"]["Config"][0]["Subnet"])[1])
    targets = [f"{gateway}:{port}", f"{docker0}:{port}"]
    # control: from Docker's default bridge (not ours) the same host listener answers
    control = probe(docker_client, node_image.tag, sid, "bridge", [f"{docker0}:{port}"])
    assert control == {f"{docker0}:{port}": "connected"}
    seen.clear()
    result = probe(docker_client, node_image.tag, sid, f"lc-{sid}", targets)
    assert all(v != "connected" for v in result.values()), result
    assert seen == []


@needs_root   # the host firewall rules
def test_lab_reaches_its_own_nodes_only_and_serves_jupyter_with_a_token(
        docker_client, lab_image, student_ids, host_listener):
    port, seen = host_listener
    a, b = student_ids(2)
    status_a = backend.up(a, nodes=1, with_lab=True, client=docker_client)
    backend.up(b, nodes=1, client=docker_client)
    own = f"{backend.node_address(subnet_of(docker_client, a), 0)}:{PORT}"
    other = f"{backend.node_address(subnet_of(docker_client, b), 0)}:{PORT}"
    labs_gateway = str(ipaddress.ip_network(backend.DockerSettings().labs_subnet)[1])
    lab = docker_client.containers.get(f"lc-{a}-lab")
    # the probe runs inside the lab container itself (it is on two networks)
    code, output = lab.exec_run(["python3", "-c", PROBE, json.dumps([own, other, f"{labs_gateway}:{port}"])])
    assert code == 0, output
    result = json.loads(output.decode().strip().splitlines()[-1])
    assert result[own] == "connected"
    assert result[other] != "connected" and result[f"{labs_gateway}:{port}"] != "connected"
    assert seen == []
    # JupyterLab answers on the published host port, only with the token
    url = status_a.lab_url
    base, token = url.split("/lab?token=")

    def answers():
        try:
            with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=3) as r:
                return r.status == 200
        except (OSError, urllib.error.URLError):
            return False
    wait_until(answers, 90, "JupyterLab in the lab container")
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(f"{base}/api/status", timeout=3)
    assert denied.value.code == 403
