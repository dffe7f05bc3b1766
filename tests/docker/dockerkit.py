"""Helpers for the Docker tests: this session's student ids, probes and leftovers."""
from __future__ import annotations

import json
import secrets


from labchain.testnet import docker as backend
from polling import wait_until  # noqa: F401  (re-exported to the docker tests)

#: every student id a test session uses starts with this, so cleanup finds only its own
PREFIX = "t" + secrets.token_hex(2)


def our_students(client) -> set[str]:
    """Students of this session that own any container, network or volume."""
    found = set()
    for kind in (client.containers.list(all=True, filters={"label": backend.LABEL_STUDENT}),
                 client.networks.list(filters={"label": backend.LABEL_STUDENT}),
                 client.volumes.list(filters={"label": backend.LABEL_STUDENT})):
        for obj in kind:
            sid = (obj.attrs.get("Labels") or obj.attrs.get("Config", {}).get("Labels") or {}).get(
                backend.LABEL_STUDENT, "")
            if sid.startswith(PREFIX):
                found.add(sid)
    return found


def leftovers(client, student: str) -> list[str]:
    """Names of every container, network and volume still labelled with ``student``."""
    label = {"label": f"{backend.LABEL_STUDENT}={student}"}
    return ([c.name for c in client.containers.list(all=True, filters=label)]
            + [n.name for n in client.networks.list(filters=label)]
            + [v.name for v in client.volumes.list(filters=label)])


def cleanup(client, students: list[str] | None = None) -> None:
    """Remove ``students`` (default: every student of this session) and, with the last
    student anywhere, the shared labs bridge."""
    for sid in our_students(client) if students is None else students:
        backend.down(sid, client=client, missing_ok=True)
    if not backend.students(client):          # the shared labs bridge goes with the last student
        for net in client.networks.list(names=[backend.LABS_NETWORK]):
            net.remove()


PROBE = """
import json, socket, sys
results = {}
for target in json.loads(sys.argv[1]):
    host, port = target.rsplit(":", 1)
    s = socket.socket(); s.settimeout(3)
    code = s.connect_ex((host, int(port)))
    results[target] = "connected" if code == 0 else ("refused" if code == 111 else "blocked")
    s.close()
print(json.dumps(results))
"""


def probe(client, image: str, student: str, network: str, targets: list[str]) -> dict[str, str]:
    """Run a short-lived container (labelled as ``student``'s) on ``network`` that tries a TCP
    connection to each ``host:port``; returns target -> connected | refused | blocked."""
    container = client.containers.run(
        image, entrypoint=["python3", "-c", PROBE, json.dumps(targets)], network=network,
        labels={backend.LABEL_STUDENT: student, backend.LABEL_TESTNET: student,
                backend.LABEL_ROLE: "probe"}, detach=True, cap_drop=["ALL"])
    try:
        result = container.wait(timeout=60)
        out = container.logs().decode()
        assert result["StatusCode"] == 0, out
        return json.loads(out.strip().splitlines()[-1])
    finally:
        container.remove(force=True, v=True)   # v: the image's anonymous /data volume too


def listener(client, image: str, student: str, network: str, ip: str | None, port: int):
    """A TCP listener container at ``ip`` (None: any) on ``network`` only (a stand-in to aim at)."""
    endpoint = client.api.create_endpoint_config(ipv4_address=ip) if ip else client.api.create_endpoint_config()
    created = client.api.create_container(
        image, entrypoint=["python3", "-c",
                           f"import socket\ns=socket.socket();s.bind(('0.0.0.0',{port}));s.listen(8)\n"
                           "print('listening', flush=True)\nwhile True: c,_=s.accept(); c.close()"],
        labels={backend.LABEL_STUDENT: student, backend.LABEL_TESTNET: student, backend.LABEL_ROLE: "probe"},
        host_config=client.api.create_host_config(network_mode=network),
        networking_config=client.api.create_networking_config({network: endpoint}))
    client.api.start(created["Id"])
    container = client.containers.get(created["Id"])
    wait_until(lambda: b"listening" in container.logs(), 30, "the listener to listen")
    return container
