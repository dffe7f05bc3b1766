"""Per-student testnets in Docker containers (the ``docker`` testnet backend).

Terminology
    *student*     an id from the roster (``s001``); every Docker object of theirs carries the
                  label ``labchain.student=<id>``.
    *testnet*     one student's network plus its node containers (``labchain.testnet=<id>``).
    *node i*      container ``lc-<student>-node<i>`` running ``labchain node`` from the
                  ``labchain/node`` image, its data dir on the named volume
                  ``lc-<student>-node<i>-data`` (survives restarts), label ``labchain.node=<i>``.
    *lab*         optional JupyterLab container ``lc-<student>-lab`` on the same network.

Isolation, in layers:
    * Each student gets one ``internal`` bridge network (no gateway to the outside) with an
      explicitly allocated /28 from a pool (default 10.210.0.0/16 = 4096 students; Docker's own
      default pools give only ~30 networks). Docker drops forwarded traffic between networks.
    * Docker still gives the host an address on every bridge, so a container could reach
      *host* services (and other students' published Jupyter ports) through it. We add host
      firewall rules (iptables, as root) that drop new connections *from* our bridges to the
      host; the host may still call into the nodes (``class status`` reads heights that way).
    * Lab containers need a published port, which internal networks cannot have, so they sit
      also on one shared ``labchain-labs`` bridge with inter-container traffic disabled, no
      NAT, and a rule dropping new connections leaving it: reachable from outside, reaching
      nothing but their own student's nodes.
    * Containers: memory/CPU/pids limits, all capabilities dropped, no-new-privileges,
      read-only root file system with a small tmpfs, non-root user, restart policy. The Docker
      socket is never mounted.

Simplifications: one host (no swarm); node RPC is plain HTTP without authentication, reachable
only inside the student's network and from the host; the lab token is the only lock on
JupyterLab.
"""
from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
import secrets
import shutil
import subprocess
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labchain.deploy.images import image_tag, require_image
from labchain.node.process import NodeStartError
from labchain.testnet.backend import Backend, NodeEndpoint, NodeSpec, TestnetError
from labchain.testnet.testnet import topology_edges

log = logging.getLogger(__name__)

LABEL_STUDENT = "labchain.student"
LABEL_TESTNET = "labchain.testnet"
LABEL_NODE = "labchain.node"
LABEL_ROLE = "labchain.role"          # network | partition | node | lab | labs-network
LABEL_NODES = "labchain.nodes"        # on the network: how many nodes the testnet has

P2P_PORT = 18444
RPC_PORT = 18443
LAB_PORT = 8888
MAX_NODES = 12                        # a /28 has 14 hosts: gateway, 12 nodes, the lab
LAB_HOST_OFFSET = 14
LABS_NETWORK = "labchain-labs"
LABS_BRIDGE = "lc-labs"
BRIDGE_PREFIX = "lcn-"                # host-side bridge names of student networks
STUDENT_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


class DockerTestnetError(TestnetError):
    """A student testnet could not be created, found or changed."""


class StudentNameError(DockerTestnetError, ValueError):
    """A student id that cannot name Docker objects."""


class UnknownStudentError(DockerTestnetError, LookupError):
    """No testnet exists for this student."""


class SubnetPoolExhaustedError(DockerTestnetError):
    """Every subnet of the configured pool is taken."""


class DockerUnavailableError(DockerTestnetError):
    """No Docker engine answers."""


@dataclass(frozen=True, slots=True)
class DockerSettings:
    """Everything an instructor may tune; defaults fit ~100 students on a 24 GiB host."""

    node_image: str = field(default_factory=lambda: image_tag("node"))
    lab_image: str = field(default_factory=lambda: image_tag("lab"))
    subnet_pool: str = field(default_factory=lambda: os.environ.get("LABCHAIN_SUBNET_POOL", "10.210.0.0/16"))
    labs_subnet: str = field(default_factory=lambda: os.environ.get("LABCHAIN_LABS_SUBNET", "10.209.0.0/20"))
    subnet_prefix: int = 28
    params: str = "regtest"
    mining: str = "manual"
    node_mem_limit: str = "192m"
    node_nano_cpus: int = 500_000_000      # half a CPU
    node_pids_limit: int = 64
    lab_mem_limit: str = "1536m"
    lab_nano_cpus: int = 1_000_000_000
    lab_pids_limit: int = 256
    tmpfs_size: str = "16m"
    restart_policy: str = "unless-stopped"
    lab_bind: str = "127.0.0.1"            # host address JupyterLab ports are published on
    firewall: bool = True                  # add the host iptables rules (needs root)


@dataclass(frozen=True, slots=True)
class NodeStatus:
    index: int
    container: str
    state: str            # running, restarting, exited, missing...
    health: str           # healthy, unhealthy, starting, none
    rpc: str              # http://10.210.0.2:18443/
    height: int | None    # None when RPC does not answer
    memory: int | None    # bytes in use (docker stats: usage minus page cache)


@dataclass(frozen=True, slots=True)
class TestnetStatus:
    student: str
    subnet: str
    nodes: tuple[NodeStatus, ...]
    lab_url: str | None

    @property
    def healthy(self) -> int:
        return sum(1 for n in self.nodes if n.health == "healthy")

    @property
    def memory(self) -> int:
        return sum(n.memory or 0 for n in self.nodes)


def check_student(student: str) -> str:
    if not isinstance(student, str) or not STUDENT_ID.match(student):
        raise StudentNameError(
            f"{student!r} is not a valid student id: use 1-32 lower-case letters, digits, '-' or "
            f"'_', starting with a letter or digit (e.g. s001)", student)
    return student


def names(student: str) -> dict[str, str]:
    return {"network": f"lc-{student}", "lab": f"lc-{student}-lab", "lab_volume": f"lc-{student}-lab-home"}


def node_name(student: str, index: int) -> str:
    return f"lc-{student}-node{index}"


def volume_name(student: str, index: int) -> str:
    return f"lc-{student}-node{index}-data"


def connect(client=None):
    """A Docker SDK client for the local engine, or :class:`DockerUnavailableError`."""
    import docker
    import docker.errors

    if client is not None:
        return client
    try:
        client = docker.from_env()
        client.ping()
    except (docker.errors.DockerException, OSError) as exc:
        raise DockerUnavailableError(
            f"no Docker engine answers ({exc}); start dockerd (see docs/docker.md)") from None
    return client


# --- subnets -----------------------------------------------------------------------------

_allocation_lock = threading.Lock()
_client_lock = threading.Lock()


def used_subnets(client) -> list[ipaddress.IPv4Network]:
    """Every IPv4 subnet any Docker network on this engine uses."""
    used = []
    for net in client.api.networks():
        for cfg in (net.get("IPAM") or {}).get("Config") or []:
            try:
                subnet = ipaddress.ip_network(cfg.get("Subnet", ""), strict=False)
            except ValueError:
                continue
            if subnet.version == 4:
                used.append(subnet)
    return used


def free_subnets(client, settings: DockerSettings) -> list[ipaddress.IPv4Network]:
    pool = ipaddress.ip_network(settings.subnet_pool)
    used = used_subnets(client)
    return [s for s in pool.subnets(new_prefix=settings.subnet_prefix)
            if not any(s.overlaps(u) for u in used)]


def bridge_name(settings: DockerSettings, subnet: ipaddress.IPv4Network) -> str:
    """Host interface name of a student bridge, e.g. ``lcn-17`` (<= 15 characters)."""
    pool = ipaddress.ip_network(settings.subnet_pool)
    index = (int(subnet.network_address) - int(pool.network_address)) >> (32 - settings.subnet_prefix)
    return f"{BRIDGE_PREFIX}{index}"


def create_student_network(client, settings: DockerSettings, name: str, labels: dict[str, str]):
    """Create an internal network on the first free subnet of the pool."""
    import docker.errors
    from docker.types import IPAMConfig, IPAMPool

    with _allocation_lock:
        for subnet in free_subnets(client, settings):
            ipam = IPAMConfig(pool_configs=[IPAMPool(subnet=str(subnet), gateway=str(subnet[1]))])
            try:
                return client.networks.create(
                    name, driver="bridge", internal=True, ipam=ipam, labels=labels,
                    options={"com.docker.network.bridge.name": bridge_name(settings, subnet),
                             "com.docker.network.bridge.enable_ip_masquerade": "false"})
            except docker.errors.APIError as exc:
                if "overlap" in str(exc).lower():   # another process took it meanwhile
                    continue
                raise
    raise SubnetPoolExhaustedError(
        f"no free /{settings.subnet_prefix} is left in the subnet pool {settings.subnet_pool}; "
        f"take students down or give a larger pool (LABCHAIN_SUBNET_POOL)", settings.subnet_pool)


def ensure_labs_network(client, settings: DockerSettings):
    """The shared bridge lab containers publish JupyterLab through (no ICC, no NAT)."""
    import docker.errors
    from docker.types import IPAMConfig, IPAMPool

    with _allocation_lock:
        existing = client.networks.list(names=[LABS_NETWORK])
        if existing:
            return existing[0]
        subnet = ipaddress.ip_network(settings.labs_subnet)
        try:
            return client.networks.create(
                LABS_NETWORK, driver="bridge", labels={LABEL_ROLE: "labs-network"},
                ipam=IPAMConfig(pool_configs=[IPAMPool(subnet=str(subnet), gateway=str(subnet[1]))]),
                options={"com.docker.network.bridge.name": LABS_BRIDGE,
                         "com.docker.network.bridge.enable_icc": "false",
                         "com.docker.network.bridge.enable_ip_masquerade": "false"})
        except docker.errors.APIError as exc:
            raise DockerTestnetError(f"cannot create the {LABS_NETWORK} network on {subnet}: {exc}") from None


# --- host firewall -----------------------------------------------------------------------

#: (chain, rule): new connections from student bridges to the host, and from the labs bridge
#: anywhere but back into itself, are dropped; replies to host-initiated calls pass.
FIREWALL_RULES = (
    ("INPUT", ["-i", BRIDGE_PREFIX + "+", "-m", "conntrack", "--ctstate", "NEW", "-j", "DROP"]),
    ("INPUT", ["-i", LABS_BRIDGE, "-m", "conntrack", "--ctstate", "NEW", "-j", "DROP"]),
    ("DOCKER-USER", ["-i", LABS_BRIDGE, "!", "-o", LABS_BRIDGE, "-m", "conntrack", "--ctstate", "NEW",
                     "-j", "DROP"]),
)

_firewall_lock = threading.Lock()


def ensure_firewall() -> bool:
    """Install :data:`FIREWALL_RULES` once (idempotent). False (with a warning) if impossible."""
    iptables = shutil.which("iptables")
    if os.geteuid() != 0 or not iptables:
        log.warning("not root or no iptables: student containers can reach services on the host "
                    "through their bridge address (see docs/docker.md)")
        return False
    with _firewall_lock:
        for chain, rule in FIREWALL_RULES:
            if subprocess.run([iptables, "-C", chain, *rule], capture_output=True).returncode != 0:
                subprocess.run([iptables, "-I", chain, "1", *rule], check=True, capture_output=True)
    return True


# --- containers --------------------------------------------------------------------------

def _labels(student: str, role: str, **extra: str) -> dict[str, str]:
    return {LABEL_STUDENT: student, LABEL_TESTNET: student, LABEL_ROLE: role, **extra}


def _common_host_config(client, settings: DockerSettings, mem: str, cpus: int, pids: int, **kw):
    return client.api.create_host_config(
        mem_limit=mem, memswap_limit=mem, nano_cpus=cpus, pids_limit=pids,
        cap_drop=["ALL"], security_opt=["no-new-privileges"], read_only=True,
        tmpfs={"/tmp": f"rw,nosuid,nodev,noexec,size={settings.tmpfs_size}"},
        restart_policy={"Name": settings.restart_policy}, init=True,
        log_config={"Type": "json-file", "Config": {"max-size": "5m", "max-file": "2"}}, **kw)


def node_address(subnet: ipaddress.IPv4Network, index: int) -> str:
    return str(subnet[2 + index])


def node_command(spec: NodeSpec) -> list[str]:
    """Arguments after the image's ``labchain node`` entrypoint (see docs/ARCHITECTURE.md)."""
    args = spec.node_args()
    if "/" in spec.params:  # a chain configuration file of the host: its text goes into the container
        args += ["--config-text", Path(spec.params).read_text(encoding="utf-8")]
        from labchain.testnet.consortium import identity_folder

        if identity_folder(spec.params, spec.index):  # a consortium node: create_node copies it in
            args += ["--identity", "/data/identity"]
    return ["--datadir", "/data", "--p2p-host", "0.0.0.0", "--p2p-port", str(P2P_PORT),
            "--rpc-host", "0.0.0.0", "--rpc-port", str(RPC_PORT), *args]


def create_node(client, settings: DockerSettings, student: str, network, subnet, spec: NodeSpec):
    """Create and start the container of node ``spec.index``; its volume is reused if it exists."""
    from docker.types import Mount

    index = spec.index
    labels = _labels(student, "node", **{LABEL_NODE: str(index)})
    volume = client.volumes.create(volume_name(student, index), labels=labels)
    host_config = _common_host_config(
        client, settings, settings.node_mem_limit, settings.node_nano_cpus, settings.node_pids_limit,
        mounts=[Mount(target="/data", source=volume.name, type="volume")])
    networking = client.api.create_networking_config({network.name: client.api.create_endpoint_config(
        ipv4_address=node_address(subnet, index), aliases=[spec.name])})
    created = client.api.create_container(
        settings.node_image, command=node_command(spec), name=node_name(student, index),
        hostname=spec.name, labels=labels, host_config=host_config, networking_config=networking,
        environment={"LABCHAIN_RPC_PORT": str(RPC_PORT)})
    from labchain.testnet.consortium import identity_folder, identity_tar

    folder = identity_folder(spec.params, index)
    if folder is not None:  # its certificate and key, into the container before it starts
        client.api.put_archive(created["Id"], "/data", identity_tar(folder))  # the rootfs is read-only
    client.api.start(created["Id"])
    return client.containers.get(created["Id"])


def line_specs(settings: DockerSettings, subnet, nodes: int) -> list[NodeSpec]:
    """Node specs of a line topology (node i dials node i-1), addresses inside the network."""
    edges = topology_edges(nodes, "line")
    return [NodeSpec(i, settings.params, [f"{node_address(subnet, j)}:{P2P_PORT}" for a, j in edges if a == i],
                     settings.mining) for i in range(nodes)]


#: seconds between two looks at a starting container's state (a Docker API inspect each): RPC is
#: polled every 0.2 s, but 20 students' 60 nodes inspected as often kept dockerd and the hub busy
CRASH_CHECK_EVERY = 1.0


def wait_ready(container, rpc_url: str, timeout: float = 60.0) -> int:
    """Poll ``getblockcount`` until the node answers; :class:`NodeStartError` with its log if not
    (the container exited or restarted, looked at every :data:`CRASH_CHECK_EVERY` s, or no answer
    by the deadline)."""
    deadline = time.monotonic() + timeout
    container.reload()
    restarts = container.attrs.get("RestartCount", 0)
    next_check = time.monotonic() + CRASH_CHECK_EVERY
    while True:
        try:
            return int(rpc_call(rpc_url, "getblockcount", timeout=1.0))
        except (OSError, ValueError, DockerTestnetError):
            pass
        now = time.monotonic()
        if now < next_check and now <= deadline:
            time.sleep(0.2)
            continue
        next_check = now + CRASH_CHECK_EVERY
        container.reload()
        state = container.attrs["State"]
        crashed = state.get("Status") in ("exited", "dead") or container.attrs.get("RestartCount", 0) > restarts
        if crashed or time.monotonic() > deadline:
            why = "exited" if crashed else f"did not answer RPC within {timeout:.0f} s"
            tail = container.logs(tail=15).decode(errors="replace").strip()
            raise NodeStartError(f"container {container.name} {why}; its log ends:\n{tail}", container.name)
        time.sleep(0.2)


def testnet_state(student: str, subnet, settings: DockerSettings, nodes: int) -> dict[str, Any]:
    """``Testnet.to_json()`` of a class testnet, so ``Testnet.connect()`` works from the lab
    container (through ``LABCHAIN_TESTNET``) with in-network addresses."""
    return {"backend": "docker", "params": settings.params, "topology": "line",
            "mining": settings.mining, "dir": "/tmp/labchain-testnet",
            "edges": [list(e) for e in topology_edges(nodes, "line")], "groups": None,
            "nodes": [NodeEndpoint(i, f"http://{node_address(subnet, i)}:{RPC_PORT}/",
                                   f"{node_address(subnet, i)}:{P2P_PORT}", None,
                                   node_name(student, i), "/data").to_json() for i in range(nodes)],
            "backend_state": {"student": student, "subnet": str(subnet)}}


def create_lab(client, settings: DockerSettings, student: str, network, subnet, nodes: int):
    """JupyterLab for the student: on their network plus the shared labs bridge for its port."""
    from docker.types import Mount

    labs_net = ensure_labs_network(client, settings)
    labels = _labels(student, "lab")
    home = client.volumes.create(names(student)["lab_volume"], labels=labels)
    host_config = _common_host_config(
        client, settings, settings.lab_mem_limit, settings.lab_nano_cpus, settings.lab_pids_limit,
        port_bindings={LAB_PORT: (settings.lab_bind, None)},
        mounts=[Mount(target="/home/student", source=home.name, type="volume")])
    networking = client.api.create_networking_config({labs_net.name: client.api.create_endpoint_config()})
    created = client.api.create_container(
        settings.lab_image, name=names(student)["lab"], hostname="lab", labels=labels,
        host_config=host_config, networking_config=networking, ports=[LAB_PORT],
        environment={"JUPYTER_TOKEN": secrets.token_urlsafe(18),
                     "LABCHAIN_TESTNET": json.dumps(testnet_state(student, subnet, settings, nodes))})
    network.connect(created["Id"], ipv4_address=str(subnet[LAB_HOST_OFFSET]), aliases=["lab"])
    client.api.start(created["Id"])
    return client.containers.get(created["Id"])


# --- one student's testnet ---------------------------------------------------------------

def find_network(client, student: str):
    nets = client.networks.list(filters={"label": [f"{LABEL_TESTNET}={student}", f"{LABEL_ROLE}=network"]})
    return nets[0] if nets else None


def network_subnet(network) -> ipaddress.IPv4Network:
    network.reload()
    return ipaddress.ip_network(network.attrs["IPAM"]["Config"][0]["Subnet"])


def up(student: str, nodes: int = 3, with_lab: bool = False, settings: DockerSettings | None = None,
       client=None, wait: bool = True, timeout: float = 60.0) -> TestnetStatus:
    """Create (or complete) ``student``'s testnet; running it again changes nothing.

    With ``wait`` it returns once every node answers RPC (:class:`NodeStartError` otherwise).

    On any failure, whatever this call created is removed again and the error re-raised.
    """
    settings = settings or DockerSettings()
    check_student(student)
    if not 1 <= nodes <= MAX_NODES:
        raise DockerTestnetError(f"a testnet has 1 to {MAX_NODES} nodes, not {nodes}", nodes)
    client = connect(client)
    require_image(client, settings.node_image)
    if with_lab:
        require_image(client, settings.lab_image)
    if settings.firewall:
        ensure_firewall()
    network = find_network(client, student)
    fresh = network is None
    if not fresh:
        had = int(network.attrs["Labels"].get(LABEL_NODES, "0"))
        if had != nodes:
            raise DockerTestnetError(
                f"{student} already has a testnet with {had} nodes, not {nodes}; run `down` first", student)
    try:
        if fresh:
            network = create_student_network(
                client, settings, names(student)["network"],
                _labels(student, "network", **{LABEL_NODES: str(nodes)}))
        subnet = network_subnet(network)
        existing = {c.name: c for c in _containers(client, student)}
        started = []
        for spec in line_specs(settings, subnet, nodes):
            container = existing.get(node_name(student, spec.index))
            if container is None:
                container = create_node(client, settings, student, network, subnet, spec)
            elif container.status in ("created", "exited"):
                container.start()
            started.append((container, f"http://{node_address(subnet, spec.index)}:{RPC_PORT}/"))
        if wait:
            for container, rpc in started:
                wait_ready(container, rpc, timeout)
        lab = existing.get(names(student)["lab"])
        if with_lab and lab is None:
            create_lab(client, settings, student, network, subnet, nodes)
        elif lab is not None and lab.status in ("created", "exited"):
            lab.start()
    except BaseException:
        if fresh:
            down(student, client=client, missing_ok=True)
        raise
    return status(student, client=client, with_memory=False)


def _containers(client, student: str):
    return client.containers.list(all=True, filters={"label": f"{LABEL_TESTNET}={student}"})


def down(student: str, client=None, missing_ok: bool = False) -> int:
    """Remove every container, network and volume labelled with ``student``; returns the count."""
    import docker.errors

    check_student(student)
    client = connect(client)
    label = {"label": f"{LABEL_TESTNET}={student}"}
    removed = 0
    for container in client.containers.list(all=True, filters=label):
        try:
            container.remove(force=True, v=True)
            removed += 1
        except docker.errors.NotFound:
            pass
    for network in client.networks.list(filters=label):
        try:
            network.remove()
            removed += 1
        except docker.errors.NotFound:
            pass
    for volume in client.volumes.list(filters=label):
        try:
            volume.remove(force=True)
            removed += 1
        except docker.errors.NotFound:
            pass
    if not removed and not missing_ok:
        raise UnknownStudentError(f"there is no testnet for student {student!r}", student)
    return removed


def students(client=None) -> list[str]:
    """Every student that has a testnet network on this engine."""
    client = connect(client)
    nets = client.networks.list(filters={"label": [LABEL_TESTNET, f"{LABEL_ROLE}=network"]})
    return sorted(n.attrs["Labels"][LABEL_STUDENT] for n in nets)


def rpc_call(url: str, method: str, *params, timeout: float = 2.0):
    """One JSON-RPC 2.0 call over HTTP (enough for status; notebooks use labchain.node.rpc)."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        reply = json.load(response)
    if reply.get("error"):
        raise DockerTestnetError(f"{method} on {url} failed: {reply['error']}", reply)
    return reply["result"]


def container_memory(container) -> int | None:
    """Memory in use as ``docker stats`` shows it (usage minus inactive page cache)."""
    try:
        stats = container.stats(stream=False, one_shot=True)["memory_stats"]
    except Exception:  # noqa: BLE001 - a container going away mid-call simply has no figure
        return None
    if "usage" not in stats:
        return None
    inner = stats.get("stats", {})
    cache = inner.get("total_inactive_file", inner.get("inactive_file", inner.get("cache", 0)))
    return stats["usage"] - cache


def status(student: str, client=None, with_memory: bool = True) -> TestnetStatus:
    """Containers, health, heights (via RPC from the host) and memory of ``student``'s testnet."""
    check_student(student)
    client = connect(client)
    network = find_network(client, student)
    if network is None:
        raise UnknownStudentError(f"there is no testnet for student {student!r}", student)
    subnet = network_subnet(network)
    containers = _containers(client, student)
    by_name = {c.name: c for c in containers}
    indexes = set(range(int(network.attrs["Labels"].get(LABEL_NODES, "0"))))
    indexes |= {int(c.labels[LABEL_NODE]) for c in containers if LABEL_NODE in c.labels}
    result = []
    for i in sorted(indexes):
        rpc = f"http://{node_address(subnet, i)}:{RPC_PORT}/"
        c = by_name.get(node_name(student, i))
        if c is None:
            result.append(NodeStatus(i, node_name(student, i), "missing", "none", rpc, None, None))
            continue
        state = c.attrs["State"]
        height = None
        if state.get("Running"):
            try:
                height = int(rpc_call(rpc, "getblockcount"))
            except (OSError, ValueError, DockerTestnetError):
                height = None
        result.append(NodeStatus(i, c.name, state.get("Status", "?"),
                                 (state.get("Health") or {}).get("Status", "none"), rpc, height,
                                 container_memory(c) if with_memory and state.get("Running") else None))
    lab = by_name.get(names(student)["lab"])
    return TestnetStatus(student, str(subnet), tuple(result), lab_url(lab) if lab else None)


def lab_url(container) -> str | None:
    """``http://host:port/lab?token=...`` of a running lab container."""
    container.reload()
    bindings = (container.attrs["NetworkSettings"].get("Ports") or {}).get(f"{LAB_PORT}/tcp") or []
    if not bindings:
        return None
    env = dict(e.split("=", 1) for e in container.attrs["Config"]["Env"])
    host = bindings[0]["HostIp"] or "127.0.0.1"
    host = "127.0.0.1" if host == "0.0.0.0" else host
    return f"http://{host}:{bindings[0]['HostPort']}/lab?token={env.get('JUPYTER_TOKEN', '')}"


# --- the Backend behind Testnet.start(backend="docker") --------------------------------

class DockerBackend(Backend):
    """Runs a testnet's nodes as containers of one student (see the module docstring).

    ``Testnet.start(nodes=4, backend="docker", student="s001")``. Without a student the testnet
    gets an id made from its directory. Containers do not watch ``owner_pid``: they live until
    ``down()`` (which ``Testnet.start`` calls at exit for the testnets it owns).

    ``kill_node`` switches the restart policy off first, so a node killed through the testnet
    stays down until ``start_node``; a container killed from outside (``docker kill``, a crash)
    is brought back by Docker's restart policy and resyncs from its volume.
    """

    name = "docker"

    def __init__(self, workdir: Path, owner_pid: int | None = None, student: str | None = None,
                 settings: DockerSettings | None = None, client=None) -> None:
        super().__init__(workdir, owner_pid)
        self.student = check_student(student or self.default_student(workdir))
        self.settings = settings or DockerSettings()
        self._client = client
        self._network = None
        self._lock = threading.Lock()

    @staticmethod
    def default_student(workdir: Path) -> str:
        import hashlib

        return "tn-" + hashlib.sha1(str(Path(workdir).resolve()).encode()).hexdigest()[:8]

    @property
    def client(self):
        with _client_lock:
            return self._connect()

    def _connect(self):
        if self._client is None:  # lazily: a lab container attaches without any Docker access
            try:
                self._client = connect()
            except DockerUnavailableError:
                raise DockerTestnetError(
                    f"this testnet's nodes are Docker containers of {self.student}; only the host "
                    f"that runs them can start, stop or kill them (RPC works from here)") from None
        return self._client

    def _ensure_network(self):
        with self._lock:  # Testnet.start starts nodes from several threads
            if self._network is None:
                self._network = find_network(self.client, self.student)
            if self._network is None:
                require_image(self.client, self.settings.node_image)
                if self.settings.firewall:
                    ensure_firewall()
                self._network = create_student_network(
                    self.client, self.settings, names(self.student)["network"],
                    _labels(self.student, "network", **{LABEL_NODES: "0"}))
            return self._network, network_subnet(self._network)

    def _container(self, index: int):
        import docker.errors

        try:
            return self.client.containers.get(node_name(self.student, index))
        except docker.errors.NotFound:
            raise DockerTestnetError(f"node {index} of {self.student} has no container "
                                     f"(nodes: {self.node_indexes()})", index) from None

    def start_node(self, spec: NodeSpec, timeout: float = 30.0) -> NodeEndpoint:
        import docker.errors

        if spec.index >= MAX_NODES:
            raise DockerTestnetError(f"a docker testnet has at most {MAX_NODES} nodes", spec.index)
        network, subnet = self._ensure_network()
        try:  # a restart recreates the container (its peers may differ), keeping the volume
            self.client.containers.get(node_name(self.student, spec.index)).remove(force=True)
        except docker.errors.NotFound:
            pass
        container = create_node(self.client, self.settings, self.student, network, subnet, spec)
        rpc = f"http://{node_address(subnet, spec.index)}:{RPC_PORT}/"
        wait_ready(container, rpc, timeout)
        return NodeEndpoint(spec.index, rpc, f"{node_address(subnet, spec.index)}:{P2P_PORT}",
                            None, container.name, "/data")

    def stop_node(self, index: int, timeout: float = 15.0) -> None:
        self._container(index).stop(timeout=int(timeout))

    def kill_node(self, index: int) -> None:
        container = self._container(index)
        container.update(restart_policy={"Name": "no"})
        container.kill()

    def is_running(self, index: int) -> bool:
        import docker.errors

        try:
            return self.client.containers.get(node_name(self.student, index)).status == "running"
        except docker.errors.NotFound:
            return False

    def logs(self, index: int) -> str:
        return self._container(index).logs().decode(errors="replace")

    def node_indexes(self) -> list[int]:
        return sorted(int(c.labels[LABEL_NODE]) for c in _containers(self.client, self.student)
                      if LABEL_NODE in c.labels)

    def down(self) -> None:
        down(self.student, client=self.client, missing_ok=True)
        self._network = None

    def state(self) -> dict[str, Any]:
        return {"student": self.student}

    @classmethod
    def attach(cls, workdir: Path, state: dict[str, Any]) -> DockerBackend:
        return cls(Path(workdir), None, student=state["student"])
