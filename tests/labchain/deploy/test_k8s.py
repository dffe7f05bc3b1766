"""labchain deploy k8s render: every object validates strictly against the Kubernetes JSON
schemas of two versions (kubernetes-validate); a wrong field or type fails (negative
controls); Pod Security restricted fields are set. No live cluster is involved."""
from __future__ import annotations

import copy
import subprocess
import sys

import pytest
import yaml

kv = pytest.importorskip("kubernetes_validate")

from labchain.deploy.k8s.render import (ClassSpec, K8sRenderError, namespace_for, node_script,  # noqa: E402
                                        read_roster, render, student_objects)

VERSIONS = ("1.30.0", "1.37.0")
STUDENTS = ["alice", "Bob.Smith@uni.example", "s-003"]


@pytest.fixture
def rendered(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("id,first_name\n" + "".join(f"{s},x\n" for s in STUDENTS))
    files = render(roster, tmp_path / "out")
    docs = [d for f in files if f.parent.name == "students" for d in yaml.safe_load_all(f.read_text())]
    return files, docs


@pytest.mark.parametrize("version", VERSIONS)
def test_every_rendered_object_validates_strictly(rendered, version):
    files, docs = rendered
    assert len(files) == len(STUDENTS) + 1
    assert sorted({d["kind"] for d in docs}) == ["LimitRange", "Namespace", "NetworkPolicy", "ResourceQuota",
                                                 "Service", "StatefulSet"]
    for doc in docs:
        kv.validate(doc, version, strict=True)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("break_it, why", [
    (lambda o: o["spec"].update(replicaz=3), "unknown field"),
    (lambda o: o["spec"].update(replicas="3"), "string for an integer"),
    (lambda o: o["spec"]["template"]["spec"]["containers"][0]["securityContext"].update(
        allowPrivilegeEscalation="no"), "string for a boolean"),
    (lambda o: o["spec"]["template"]["spec"]["containers"][0].update(ports=[{"containerPort": "p2p"}]),
     "name for a port number"),
])
def test_a_wrong_field_or_type_fails_validation(version, break_it, why):
    sts = next(o for o in student_objects("alice") if o["kind"] == "StatefulSet")
    bad = copy.deepcopy(sts)
    break_it(bad)
    with pytest.raises(kv.ValidationError):
        kv.validate(bad, version, strict=True)
    kv.validate(sts, version, strict=True)      # the control itself is valid


def test_namespaces_are_dns_labels_distinct_and_pod_security_restricted():
    names = [namespace_for(s) for s in STUDENTS + ["bob.smith@uni.example"]]
    assert len(set(names)) == len(names)
    for ns in names:
        assert len(ns) <= 63 and ns[0].isalpha() and all(c.isalnum() or c == "-" for c in ns)
    objs = student_objects("alice")
    labels = objs[0]["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    pod = next(o for o in objs if o["kind"] == "StatefulSet")["spec"]["template"]["spec"]
    ctx = pod["containers"][0]["securityContext"]
    assert ctx["allowPrivilegeEscalation"] is False and ctx["capabilities"] == {"drop": ["ALL"]}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    deny = next(o for o in objs if o["metadata"]["name"] == "default-deny")
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def test_the_node_script_takes_its_index_from_the_hostname_and_peers_with_the_others():
    out = subprocess.run(["sh", "-c", node_script(3).replace("exec labchain node", "echo")],
                         env={"HOSTNAME": "nodes-1", "PATH": "/usr/bin:/bin"}, capture_output=True, text=True)
    assert out.stdout.split() == ["--datadir", "/data", "--node-index", "1", "--p2p-host", "0.0.0.0",
                                  "--p2p-port", "18444", "--rpc-host", "0.0.0.0", "--rpc-port", "18443",
                                  "--peer", "nodes-0.nodes:18444", "--peer", "nodes-2.nodes:18444"]


def test_hub_values_use_kubespawner_with_a_namespace_per_user(rendered):
    files, _ = rendered
    values = yaml.safe_load(files[-1].read_text())
    assert values["hub"]["config"]["KubeSpawner"]["enable_user_namespaces"] is True
    assert values["cull"] == {"enabled": True, "timeout": 3600, "every": 600}
    assert values["singleuser"]["extraLabels"] == {"hub.jupyter.org/network-access-hub": "true"}


@pytest.mark.parametrize("text, match", [("name\nalice\n", "no 'id' column"), ("id\nalice\nalice\n", "more than once"),
                                         ("id\nalice\n\"\"\n", "empty id")])
def test_a_bad_roster_is_refused_with_the_reason(tmp_path, text, match):
    roster = tmp_path / "r.csv"
    roster.write_text(text)
    with pytest.raises(K8sRenderError, match=match):
        read_roster(roster)
    with pytest.raises(K8sRenderError, match="from 1 to 16"):
        ClassSpec(nodes=0)


def test_cli_renders_and_a_missing_roster_exits_1(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("id\nalice\n")
    ok = subprocess.run([sys.executable, "-m", "labchain.cli", "deploy", "k8s", "render", "--roster", str(roster),
                         "--out", str(tmp_path / "o"), "--nodes", "2"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "o" / "students" / f"{namespace_for('alice')}.yaml").is_file()
    bad = subprocess.run([sys.executable, "-m", "labchain.cli", "deploy", "k8s", "render", "--roster",
                          str(tmp_path / "nope.csv"), "--out", str(tmp_path / "o")], capture_output=True, text=True)
    assert bad.returncode == 1 and "cannot read roster" in bad.stderr
