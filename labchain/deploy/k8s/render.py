"""The objects of a class on Kubernetes, as plain dicts (see the package docstring).

Per student (``student_objects``): Namespace (Pod Security ``restricted``, enforced),
ResourceQuota, LimitRange, a default-deny NetworkPolicy plus one allowing only the same
namespace, DNS, the hub API and the proxy; the testnet's headless Service and StatefulSet
with a volume per node (``volumeClaimTemplates``). For the class: Zero to JupyterHub values
(``hub_values``).
"""
from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from labchain.core.errors import LabchainError

P2P_PORT, RPC_PORT = 18444, 18443          # the node's P2P and JSON-RPC ports in a pod
HUB_PORT, PROXY_PORT = 8081, 8000          # Z2JH: hub API (hub:8081), proxy-public http (8000)
NODE_USER = 10001                          # non-root uid of the node image
STS = "nodes"                              # StatefulSet and headless Service name


class K8sRenderError(LabchainError):
    """The roster or the class settings cannot be rendered."""


@dataclass(frozen=True, slots=True)
class ClassSpec:
    """Class-wide settings; field names as Kubernetes and Z2JH name them."""

    image: str = "labchain/node:0.1.0"            # StatefulSet container image
    lab_image: str = "labchain/lab:0.1.0"         # Z2JH singleuser.image
    nodes: int = 3                                 # StatefulSet replicas
    node_storage: str = "1Gi"                      # volumeClaimTemplates requests.storage
    node_cpu: str = "250m"                         # per node container limits.cpu
    node_memory: str = "128Mi"                     # per node container limits.memory
    hub_namespace: str = "jhub"                    # where the Z2JH release runs
    quota_cpu: str = "2"                           # ResourceQuota limits.cpu
    quota_memory: str = "2Gi"                      # ResourceQuota limits.memory
    quota_storage: str = "10Gi"                    # ResourceQuota requests.storage

    def __post_init__(self):
        if not isinstance(self.nodes, int) or not 1 <= self.nodes <= 16:
            raise K8sRenderError(f"nodes must be an integer from 1 to 16, got {self.nodes!r}", self.nodes)


def namespace_for(student: str) -> str:
    """A DNS-1123 label for ``student``: ``lc-<safe part>-<hash>`` (ids like e-mails differ only
    in characters a label cannot hold, hence the hash)."""
    safe = re.sub(r"[^a-z0-9-]+", "-", student.lower()).strip("-")[:40].strip("-") or "x"
    return f"lc-{safe}-{hashlib.sha256(student.encode()).hexdigest()[:8]}"


def read_roster(path: str | Path) -> list[str]:
    """Student ids from a CSV with an ``id`` column (the grading roster's format)."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
            header = rows[0].keys() if rows else []
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise K8sRenderError(f"cannot read roster {path}: {exc}", path) from exc
    if "id" not in header:
        raise K8sRenderError(f"roster {path} has no 'id' column (or no rows)", path)
    ids = [(r.get("id") or "").strip() for r in rows]
    if "" in ids:
        raise K8sRenderError(f"roster {path} has a row with an empty id (row {ids.index('') + 2})", path)
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise K8sRenderError(f"roster {path} lists student {dupes[0]!r} more than once", dupes[0])
    return ids


def _meta(name: str, ns: str | None, student: str, **labels) -> dict:
    meta = {"name": name, "labels": {"app.kubernetes.io/part-of": "labchain",
                                     "labchain.io/student-hash": namespace_for(student)[-8:], **labels}}
    if ns:
        meta["namespace"] = ns
    return meta


def _restricted_container() -> dict:
    """The container securityContext Pod Security ``restricted`` requires."""
    return {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}


def node_script(nodes: int) -> str:
    """Shell run by each node pod: index from the hostname ``nodes-<i>``, the others as peers."""
    return ('i="${HOSTNAME##*-}"; set --; '
            f'for j in {" ".join(map(str, range(nodes)))}; do '
            f'[ "$j" = "$i" ] || set -- "$@" --peer "{STS}-$j.{STS}:{P2P_PORT}"; done; '
            f'exec labchain node --datadir /data --node-index "$i" --p2p-host 0.0.0.0 '
            f'--p2p-port {P2P_PORT} --rpc-host 0.0.0.0 --rpc-port {RPC_PORT} "$@"')


def student_objects(student: str, spec: ClassSpec = ClassSpec()) -> list[dict]:
    ns = namespace_for(student)
    pss = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")}
    pss["pod-security.kubernetes.io/enforce-version"] = "latest"
    selector = {"app.kubernetes.io/name": "labchain-node"}
    hub_pods = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": spec.hub_namespace}},
                "podSelector": {"matchExpressions": [{"key": "component", "operator": "In",
                                                      "values": ["hub", "proxy"]}]}}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {**_meta(ns, None, student, **pss)}},
        {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": _meta("labchain-quota", ns, student),
         "spec": {"hard": {"limits.cpu": spec.quota_cpu, "limits.memory": spec.quota_memory,
                           "requests.storage": spec.quota_storage, "pods": "10",
                           "persistentvolumeclaims": str(spec.nodes + 1), "services.loadbalancers": "0",
                           "services.nodeports": "0"}}},
        {"apiVersion": "v1", "kind": "LimitRange", "metadata": _meta("labchain-limits", ns, student),
         "spec": {"limits": [{"type": "Container",
                              "default": {"cpu": spec.node_cpu, "memory": spec.node_memory},
                              "defaultRequest": {"cpu": "50m", "memory": "64Mi"},
                              "max": {"cpu": "1", "memory": "1Gi"}}]}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
         "metadata": _meta("default-deny", ns, student),
         "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
         "metadata": _meta("allow-namespace-dns-hub", ns, student),
         "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"],
                  "ingress": [{"from": [{"podSelector": {}}, hub_pods]}],
                  "egress": [
                      {"to": [{"podSelector": {}}]},
                      {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                               "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                       "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
                      {"to": [{**hub_pods, "podSelector": {"matchLabels": {"component": "hub"}}}],
                       "ports": [{"protocol": "TCP", "port": HUB_PORT}]},
                      {"to": [{**hub_pods, "podSelector": {"matchLabels": {"component": "proxy"}}}],
                       "ports": [{"protocol": "TCP", "port": PROXY_PORT}]}]}},
        {"apiVersion": "v1", "kind": "Service", "metadata": _meta(STS, ns, student),
         "spec": {"clusterIP": "None", "publishNotReadyAddresses": True, "selector": selector,
                  "ports": [{"name": "p2p", "port": P2P_PORT, "targetPort": P2P_PORT, "protocol": "TCP"},
                            {"name": "rpc", "port": RPC_PORT, "targetPort": RPC_PORT, "protocol": "TCP"}]}},
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": _meta(STS, ns, student),
         "spec": {"serviceName": STS, "replicas": spec.nodes, "podManagementPolicy": "Parallel",
                  "selector": {"matchLabels": selector},
                  "template": {
                      "metadata": {"labels": selector},
                      "spec": {"automountServiceAccountToken": False, "enableServiceLinks": False,
                               "securityContext": {"runAsNonRoot": True, "runAsUser": NODE_USER,
                                                   "runAsGroup": NODE_USER, "fsGroup": NODE_USER,
                                                   "seccompProfile": {"type": "RuntimeDefault"}},
                               "containers": [{
                                   "name": "node", "image": spec.image, "imagePullPolicy": "IfNotPresent",
                                   "command": ["/bin/sh", "-c", node_script(spec.nodes)],
                                   "ports": [{"name": "p2p", "containerPort": P2P_PORT},
                                             {"name": "rpc", "containerPort": RPC_PORT}],
                                   "resources": {"requests": {"cpu": "50m", "memory": "64Mi"},
                                                 "limits": {"cpu": spec.node_cpu, "memory": spec.node_memory}},
                                   "securityContext": _restricted_container(),
                                   "readinessProbe": {"tcpSocket": {"port": RPC_PORT}, "periodSeconds": 5},
                                   "volumeMounts": [{"name": "data", "mountPath": "/data"},
                                                    {"name": "tmp", "mountPath": "/tmp"}]}],
                               "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}]}},
                  "volumeClaimTemplates": [{
                      "metadata": {"name": "data"},
                      "spec": {"accessModes": ["ReadWriteOnce"],
                               "resources": {"requests": {"storage": spec.node_storage}}}}]}},
    ]


def hub_values(students: list[str], spec: ClassSpec = ClassSpec()) -> dict:
    """Zero to JupyterHub chart values: KubeSpawner with the namespaces rendered here."""
    return {
        "hub": {"concurrentSpawnLimit": 64, "consecutiveFailureLimit": 5,
                "networkPolicy": {"enabled": True},
                "config": {"KubeSpawner": {
                    "enable_user_namespaces": True,   # the namespace itself: pre_spawn_hook below
                    "start_timeout": 300, "http_timeout": 120}},
                "extraConfig": {"labchain-namespaces": (
                    "import hashlib, re\n"
                    "def _ns(spawner):\n"
                    "    s = spawner.user.name\n"
                    "    safe = re.sub(r'[^a-z0-9-]+', '-', s.lower()).strip('-')[:40].strip('-') or 'x'\n"
                    "    return 'lc-%s-%s' % (safe, hashlib.sha256(s.encode()).hexdigest()[:8])\n"
                    "def _pre_spawn(spawner):\n"
                    "    spawner.namespace = _ns(spawner)\n"
                    "    spawner.environment['LABCHAIN_TESTNET'] = "
                    f"'{STS}-0.{STS}:{RPC_PORT}'\n"
                    "c.KubeSpawner.pre_spawn_hook = _pre_spawn\n")}},
        "singleuser": {"image": {"name": spec.lab_image.rsplit(":", 1)[0], "tag": spec.lab_image.rsplit(":", 1)[1]},
                       "memory": {"guarantee": "512M", "limit": "1G"}, "cpu": {"limit": 1},
                       "networkPolicy": {"enabled": True},
                       "extraLabels": {"hub.jupyter.org/network-access-hub": "true"},
                       "storage": {"capacity": "1Gi"}},
        "cull": {"enabled": True, "timeout": 3600, "every": 600},
        "scheduling": {"userScheduler": {"enabled": True}, "podPriority": {"enabled": True},
                       "userPlaceholder": {"enabled": True, "replicas": 4}},
        "prePuller": {"hook": {"enabled": True}, "continuous": {"enabled": True}},
        "labchain": {"students": len(students)},
    }


def render(roster: str | Path, out: str | Path, spec: ClassSpec = ClassSpec()) -> list[Path]:
    """Write ``out/students/<namespace>.yaml`` (one multi-document file per student) and
    ``out/hub-values.yaml``; returns the files written."""
    import yaml

    students = read_roster(roster)
    out = Path(out)
    (out / "students").mkdir(parents=True, exist_ok=True)
    written = []
    for student in students:
        path = out / "students" / f"{namespace_for(student)}.yaml"
        path.write_text(yaml.safe_dump_all(student_objects(student, spec), sort_keys=False))
        written.append(path)
    values = out / "hub-values.yaml"
    values.write_text("# Zero to JupyterHub values rendered by `labchain deploy k8s render`\n"
                      + yaml.safe_dump(hub_values(students, spec), sort_keys=False))
    written.append(values)
    return written
