"""Per-student testnets as Docker Swarm stacks (``labchain class up --engine swarm``).

Terminology
    *swarm*      Docker's own cluster engine; this host's engine must be a swarm *manager*
                 (``docker swarm init --advertise-addr 127.0.0.1`` makes a one-node swarm).
    *stack*      ``lc-<student>``: one student's testnet, deployed with ``docker stack deploy``
                 from a Compose v3 file this module writes (never a hand-edited copy).
    *service*    ``lc-<student>_node<i>``: node i; Swarm keeps one *task* (container) of it
                 running and replaces a task that dies (restart policy ``any``).
    *network*    ``lc-<student>_net``: an ``internal`` overlay network (no way out), attachable
                 so the host may start a probe container on it (tests, a lab).
    *volume*     ``lc-<student>_node<i>-data``: the node's data dir; a restarted task finds it.

Nodes find each other by service DNS names: node i dials ``node<i-1>:18444`` (a line, like the
Docker backend). ``deploy.endpoint_mode: dnsrr``: the name resolves to the task's own address
(no virtual IP), because kernels without IPVS (ours) answer VIPs with "No route to host". A
restarted task has a new address; the peers keep redialling the name and find it.

Node RPC is published nowhere: the host reads it with ``docker exec`` into the task container,
calling ``127.0.0.1:18443`` inside it (:func:`node_rpc`).

Simplifications versus the Docker backend and a real multi-host swarm:
    * Compose v3 for stacks has no ``pids`` limit and no ``security_opt`` (no-new-privileges):
      memory/CPU limits, read-only root, all capabilities dropped, non-root user and the tmpfs
      remain. No host firewall rules: overlay networks have no host-side address to reach.
    * Status and ``docker exec`` need the task to run on *this* node (true on a one-node swarm;
      on several hosts a manager would have to ask the node's engine).
    * Overlay subnets come from the swarm's address pool (``--default-addr-pool``), not from
      LabChain's subnet pool; the lab container is not offered on this engine yet.
"""
from __future__ import annotations

import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from labchain.deploy.images import require_image
from labchain.node.process import NodeStartError
from labchain.testnet import docker as backend
from labchain.testnet.backend import NodeSpec
from labchain.testnet.testnet import topology_edges

LABEL_STACK = "com.docker.stack.namespace"   # set by docker stack deploy on every object
ROLE_NETWORK = "swarm-network"


class SwarmError(backend.DockerTestnetError):
    """A swarm stack could not be created, found or changed."""


class SwarmNotManagerError(SwarmError):
    """The Docker engine is not a swarm manager."""


def stack_name(student: str) -> str:
    return f"lc-{backend.check_student(student)}"


def service_name(student: str, index: int) -> str:
    return f"{stack_name(student)}_node{index}"


def require_manager(client) -> None:
    """:class:`SwarmNotManagerError` unless this engine can deploy stacks."""
    swarm = client.info().get("Swarm") or {}
    if not swarm.get("ControlAvailable"):
        state = swarm.get("LocalNodeState", "unknown")
        raise SwarmNotManagerError(
            f"this Docker engine is not a swarm manager (swarm state: {state}); run "
            f"`docker swarm init --advertise-addr 127.0.0.1` on this host first, or use "
            f"--engine docker", state)


def node_specs(settings: backend.DockerSettings, nodes: int) -> list[NodeSpec]:
    """Line topology (node i dials node i-1) by service DNS names."""
    edges = topology_edges(nodes, "line")
    return [NodeSpec(i, settings.params, [f"node{j}:{backend.P2P_PORT}" for a, j in edges if a == i],
                     settings.mining) for i in range(nodes)]


def _cpus(nano: int) -> str:
    return f"{nano / 1e9:g}"


def compose(student: str, nodes: int, settings: backend.DockerSettings | None = None) -> dict[str, Any]:
    """The Compose v3 document of ``student``'s stack (written as JSON, which YAML reads)."""
    settings = settings or backend.DockerSettings()
    labels = {backend.LABEL_STUDENT: student, backend.LABEL_TESTNET: student}
    services = {}
    for spec in node_specs(settings, nodes):
        node_labels = {**labels, backend.LABEL_ROLE: "node", backend.LABEL_NODE: str(spec.index)}
        services[spec.name] = {
            "image": settings.node_image,
            "hostname": spec.name,
            "command": backend.node_command(spec),
            "environment": {"LABCHAIN_RPC_PORT": str(backend.RPC_PORT)},
            "labels": node_labels,                     # on the task containers
            "networks": ["net"],
            "read_only": True,
            "cap_drop": ["ALL"],
            "init": True,
            "volumes": [
                {"type": "volume", "source": f"{spec.name}-data", "target": "/data"},
                {"type": "tmpfs", "target": "/tmp",
                 "tmpfs": {"size": _size_bytes(settings.tmpfs_size)}},
            ],
            "logging": {"driver": "json-file", "options": {"max-size": "5m", "max-file": "2"}},
            # Swarm *replaces* a task that turns unhealthy (plain Docker only reports it): on a
            # loaded host the image's 5 s x 3 check killed healthy nodes, so it is laxer here.
            "healthcheck": {"interval": "30s", "timeout": "20s", "retries": 5, "start_period": "60s"},
            "deploy": {
                "replicas": 1,
                "endpoint_mode": "dnsrr",              # no IPVS here: VIPs do not route
                "labels": node_labels,                 # on the service
                "resources": {"limits": {"memory": settings.node_mem_limit.upper(),
                                         "cpus": _cpus(settings.node_nano_cpus)}},
                "restart_policy": {"condition": "any", "delay": "2s"},
                "update_config": {"order": "stop-first"},
            },
        }
    return {
        "version": "3.8",
        "services": services,
        "networks": {"net": {"driver": "overlay", "internal": True, "attachable": True,
                             "labels": {**labels, backend.LABEL_ROLE: ROLE_NETWORK,
                                        backend.LABEL_NODES: str(nodes)}}},
        "volumes": {f"node{i}-data": {"labels": {**labels, backend.LABEL_ROLE: "node",
                                                  backend.LABEL_NODE: str(i)}}
                    for i in range(nodes)},
    }


def _size_bytes(text: str) -> int:
    units = {"k": 2**10, "m": 2**20, "g": 2**30}
    text = text.strip().lower()
    return int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text)


def _docker(*args: str, timeout: float = 300) -> str:
    try:
        done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise SwarmError("the docker command line is not installed (stacks are deployed with "
                         "`docker stack deploy`)") from None
    if done.returncode != 0:
        raise SwarmError(f"docker {' '.join(args[:2])} failed: {done.stderr.strip()}", args)
    return done.stdout


def find_network(client, student: str):
    nets = client.networks.list(filters={"label": [f"{backend.LABEL_TESTNET}={student}",
                                                   f"{backend.LABEL_ROLE}={ROLE_NETWORK}"]})
    return nets[0] if nets else None


def _remove_network(network) -> None:
    """Remove a stack's network left behind by ``docker stack rm``; one still in use (a task
    being reaped) or already gone is left to the caller's next round."""
    import docker.errors

    try:
        network.remove()
    except (docker.errors.NotFound, docker.errors.APIError):
        pass


def students(client) -> list[str]:
    """Every student with a swarm stack on this engine."""
    services = client.services.list(filters={"label": f"{backend.LABEL_ROLE}=node"})
    return sorted({s.attrs["Spec"]["Labels"][backend.LABEL_STUDENT] for s in services
                   if backend.LABEL_STUDENT in s.attrs["Spec"].get("Labels", {})})


def _services(client, student: str):
    return client.services.list(filters={"label": f"{LABEL_STACK}={stack_name(student)}"})


def up(student: str, nodes: int = 3, settings: backend.DockerSettings | None = None, client=None,
       wait: bool = True, timeout: float = 180.0) -> backend.TestnetStatus:
    """Deploy (or complete) ``student``'s stack; deploying it again changes nothing."""
    settings = settings or backend.DockerSettings()
    backend.check_student(student)
    if not 1 <= nodes <= backend.MAX_NODES:
        raise SwarmError(f"a testnet has 1 to {backend.MAX_NODES} nodes, not {nodes}", nodes)
    client = backend.connect(client)
    require_manager(client)
    require_image(client, settings.node_image)
    had = {int(s.attrs["Spec"]["Labels"].get(backend.LABEL_NODE, -1)) for s in _services(client, student)}
    if had and len(had) != nodes:
        raise SwarmError(f"{student} already has a stack with {len(had)} nodes, not {nodes}; "
                         f"run `down` first", student)
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix=f"lc-swarm-{student}-") as f:
        json.dump(compose(student, nodes, settings), f)
        f.flush()
        _docker("stack", "deploy", "--prune", "--resolve-image", "never", "-c", f.name,
                stack_name(student))
    if wait:
        wait_healthy(client, student, nodes, timeout)
    return status(student, client=client, with_memory=False)


def task_container(client, student: str, index: int):
    """The running container of node ``index``'s current task, or None."""
    import docker.errors

    try:
        service = client.services.get(service_name(student, index))
    except docker.errors.NotFound:
        return None
    for task in service.tasks(filters={"desired-state": "running"}):
        cid = task.get("Status", {}).get("ContainerStatus", {}).get("ContainerID")
        if task.get("Status", {}).get("State") == "running" and cid:
            try:
                return client.containers.get(cid)
            except docker.errors.NotFound:
                return None
    return None


_RPC = """
import json, sys, urllib.request
body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": sys.argv[1],
                   "params": json.loads(sys.argv[2])}).encode()
req = urllib.request.Request("http://127.0.0.1:%s/", data=body, headers={"Content-Type": "application/json"})
print(urllib.request.urlopen(req, timeout=5).read().decode())
""" % backend.RPC_PORT


def node_rpc(container, method: str, *params):
    """One JSON-RPC call made inside ``container`` on its own localhost (nothing is published)."""
    code, out = container.exec_run(["python3", "-c", _RPC, method, json.dumps(list(params))],
                                   user="labchain")
    text = out.decode(errors="replace").strip()
    if code != 0:
        raise SwarmError(f"{method} in {container.name} failed: {text.splitlines()[-1] if text else code}",
                         container.name)
    reply = json.loads(text)
    if reply.get("error"):
        raise SwarmError(f"{method} in {container.name} failed: {reply['error']}", reply)
    return reply["result"]


def height(client, student: str, index: int) -> int | None:
    container = task_container(client, student, index)
    if container is None:
        return None
    try:
        return int(node_rpc(container, "getblockcount"))
    except (SwarmError, ValueError):
        return None
    except Exception:  # noqa: BLE001 - the task went away between lookup and exec
        return None


def wait_healthy(client, student: str, nodes: int, timeout: float) -> None:
    """Until every node's task runs and answers RPC; :class:`NodeStartError` otherwise."""
    deadline = time.monotonic() + timeout
    pending = set(range(nodes))
    while pending:
        pending = {i for i in pending if height(client, student, i) is None}
        if not pending:
            return
        if time.monotonic() > deadline:
            i = min(pending)
            tasks = client.services.get(service_name(student, i)).tasks()
            why = "; ".join(sorted({t["Status"].get("Err") or t["Status"].get("State", "?") for t in tasks}))
            raise NodeStartError(f"node {i} of {student}'s stack did not answer RPC within "
                                 f"{timeout:.0f} s (tasks: {why})", service_name(student, i))
        time.sleep(1.0)


def status(student: str, client=None, with_memory: bool = True) -> backend.TestnetStatus:
    """Tasks, health, heights (through ``docker exec``) and memory of ``student``'s stack."""
    client = backend.connect(client)
    network = find_network(client, student)
    services = _services(client, student)
    if network is None and not services:
        raise backend.UnknownStudentError(f"there is no swarm stack for student {student!r}", student)
    count = int((network.attrs.get("Labels") or {}).get(backend.LABEL_NODES, len(services))) if network else len(services)
    subnet = "-"
    if network is not None:
        config = (network.attrs.get("IPAM") or {}).get("Config") or []
        subnet = config[0].get("Subnet", "-") if config else "-"
    result = []
    for i in range(count):
        name = service_name(student, i)
        rpc = f"exec://{name}/127.0.0.1:{backend.RPC_PORT}"
        container = task_container(client, student, i)
        if container is None:
            result.append(backend.NodeStatus(i, name, "missing", "none", rpc, None, None))
            continue
        state = container.attrs["State"]
        h = height(client, student, i)
        result.append(backend.NodeStatus(
            i, container.name, state.get("Status", "?"), (state.get("Health") or {}).get("Status", "none"),
            rpc, h, backend.container_memory(container) if with_memory else None))
    return backend.TestnetStatus(student, subnet, tuple(result), None)


def down(student: str, client=None, missing_ok: bool = False, timeout: float = 120.0) -> int:
    """``docker stack rm`` the stack, wait for its containers and network to go, then remove
    its volumes; returns how many objects were removed."""
    import docker.errors

    client = backend.connect(client)
    stack = stack_name(student)
    services = _services(client, student)
    network = find_network(client, student)
    if services or network is not None:
        try:
            _docker("stack", "rm", stack)
        except SwarmError as exc:
            # the services go at once, their tasks' containers a moment later: Docker then
            # refuses the network ("is in use by task ..."). Not a failure: the network is
            # removed below once the containers are gone (seen in CI under load)
            if "in use" not in str(exc):
                raise
    label = {"label": f"{LABEL_STACK}={stack}"}
    deadline = time.monotonic() + timeout
    while True:
        containers, left = client.containers.list(all=True, filters=label), find_network(client, student)
        if not containers and left is None:
            break
        if time.monotonic() > deadline:
            raise SwarmError(f"the stack {stack} was removed but its containers or network are "
                             f"still there after {timeout:.0f} s", stack)
        if not containers:
            _remove_network(left)
        time.sleep(0.5)
    removed = len(services) + (network is not None)
    volumes = client.volumes.list(filters={"label": f"{backend.LABEL_TESTNET}={student}"})
    while volumes:  # a task container being reaped may hold its volume a while (seen under load)
        left = []
        for volume in volumes:
            try:
                volume.remove(force=True)
                removed += 1
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError:
                left.append(volume)
        volumes = left
        if volumes and time.monotonic() > deadline:
            raise SwarmError(f"the volumes of {stack} are still in use after {timeout:.0f} s: "
                             f"{', '.join(v.name for v in volumes)}", stack)
        if volumes:
            time.sleep(1.0)
    if not removed and not missing_ok:
        raise backend.UnknownStudentError(f"there is no swarm stack for student {student!r}", student)
    return removed


def write_compose(student: str, nodes: int, path: str | Path,
                  settings: backend.DockerSettings | None = None) -> Path:
    """The stack file for an operator to deploy by hand (``docker stack deploy -c PATH``)."""
    path = Path(path)
    path.write_text(json.dumps(compose(student, nodes, settings), indent=2) + "\n", encoding="utf-8")
    return path
