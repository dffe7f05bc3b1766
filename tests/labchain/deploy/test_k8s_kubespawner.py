"""KubeSpawner's own pod manifest, generated offline (``KubeSpawner(_mock=True)`` with a dummy
kubeconfig; no API server is contacted) from the rendered Zero to JupyterHub values, validates
strictly against the Kubernetes schemas; the pod lands in the namespace ``render`` created for
that student, with the testnet's address and the hub-access label."""
from __future__ import annotations

import asyncio
import copy
import types

import pytest

kv = pytest.importorskip("kubernetes_validate")
pytest.importorskip("kubespawner")

from labchain.deploy.k8s.render import ClassSpec, STS, RPC_PORT, hub_values, namespace_for  # noqa: E402

VERSIONS = ("1.30.0", "1.37.0")
DUMMY_KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: offline, cluster: {server: 'https://127.0.0.1:9'}}]
users: [{name: offline, user: {token: not-used}}]
contexts: [{name: offline, context: {cluster: offline, user: offline}}]
current-context: offline
"""


def spawner_config(values: dict):
    """The KubeSpawner traits the Z2JH chart's jupyterhub_config.py derives from the values we
    set (hub.config verbatim; singleuser.image/memory/cpu/extraLabels mapped as the chart maps
    them), then hub.extraConfig run with ``c`` as the chart runs it."""
    from traitlets.config import Config

    c = Config()
    for name, value in values["hub"]["config"]["KubeSpawner"].items():
        setattr(c.KubeSpawner, name, value)
    single = values["singleuser"]
    c.KubeSpawner.image = f"{single['image']['name']}:{single['image']['tag']}"
    c.KubeSpawner.mem_guarantee = single["memory"]["guarantee"]
    c.KubeSpawner.mem_limit = single["memory"]["limit"]
    c.KubeSpawner.cpu_limit = float(single["cpu"]["limit"])
    c.KubeSpawner.extra_labels = dict(single["extraLabels"])
    for code in values["hub"]["extraConfig"].values():
        exec(compile(code, "hub.extraConfig", "exec"), {"c": c})  # our own rendered text, as the chart does
    return c


def pod_manifest(user_name: str, monkeypatch, tmp_path) -> dict:
    """The pod KubeSpawner would create, with metadata.namespace set to the namespace it
    would create it in (KubeSpawner passes that to the API call, not in the manifest)."""
    from kubernetes_asyncio.client import ApiClient
    from kubespawner import KubeSpawner

    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(DUMMY_KUBECONFIG)
    import kubernetes_asyncio.config.kube_config as kube_config

    # read from KUBECONFIG when kubernetes_asyncio is imported: set where load_kube_config looks
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(kubeconfig))
    config = spawner_config(hub_values([user_name], ClassSpec()))

    async def build():
        user = types.SimpleNamespace(name=user_name, id=1, url=f"/user/{user_name}/", escaped_name=user_name)
        spawner = KubeSpawner(config=config, _mock=True, user=user)
        spawner.hub = types.SimpleNamespace(public_host="", url="http://hub:8081/hub/", base_url="/hub/",
                                            api_url="http://hub:8081/hub/api")
        spawner.pre_spawn_hook(spawner)
        manifest = ApiClient().sanitize_for_serialization(await spawner.get_pod_manifest())
        return {**manifest, "metadata": {**manifest["metadata"], "namespace": spawner.namespace}}

    return asyncio.run(build())


@pytest.fixture(scope="module")
def pod(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    try:
        yield pod_manifest("Bob.Smith@uni.example", mp, tmp_path_factory.mktemp("kube"))
    finally:
        mp.undo()


@pytest.mark.parametrize("version", VERSIONS)
def test_kubespawners_pod_manifest_validates_strictly(pod, version):
    assert pod["kind"] == "Pod" and pod["apiVersion"] == "v1"
    kv.validate(pod, version, strict=True)
    bad = copy.deepcopy(pod)
    bad["spec"]["containers"][0]["resources"]["limits"]["memory"] = ["1G"]     # negative control
    with pytest.raises(kv.ValidationError):
        kv.validate(bad, version, strict=True)


def test_the_pod_goes_to_the_students_rendered_namespace_with_testnet_and_hub_access(pod):
    assert pod["metadata"]["namespace"] == namespace_for("Bob.Smith@uni.example")
    assert pod["metadata"]["labels"]["hub.jupyter.org/network-access-hub"] == "true"
    notebook = pod["spec"]["containers"][0]
    assert notebook["image"] == ClassSpec().lab_image
    env = {e["name"]: e.get("value") for e in notebook["env"]}
    assert env["LABCHAIN_TESTNET"] == f"{STS}-0.{STS}:{RPC_PORT}"
    assert env["JUPYTERHUB_USER"] == "Bob.Smith@uni.example"
    assert notebook["resources"]["limits"]["memory"] == 2**30        # singleuser.memory.limit 1G
    assert notebook["resources"]["requests"]["memory"] == 512 * 2**20  # guarantee 512M
