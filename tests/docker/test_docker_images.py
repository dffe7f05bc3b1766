"""The images: built without Docker Hub from a host wheelhouse, small, non-root, cached."""
from __future__ import annotations

import re
from pathlib import Path

from labchain.deploy import images

REPO = Path(__file__).resolve().parents[2]


def run(client, tag: str, *cmd: str) -> str:
    """Output of ``cmd`` in a throwaway container (removed with its anonymous volumes)."""
    container = client.containers.run(tag, entrypoint=list(cmd), detach=True, network_disabled=True)
    try:
        container.wait(timeout=120)
        return container.logs(stderr=False).decode().strip()
    finally:
        container.remove(force=True, v=True)


def test_images_are_tagged_with_the_package_version(node_image):
    assert node_image.tag == f"labchain/node:{images.package_version()}"


def test_node_image_runs_labchain_as_a_non_root_user(docker_client, node_image):
    out = run(docker_client, node_image.tag, "sh", "-c",
              "id -u; labchain node --help | head -n 1; python -c 'import labchain.node.cli'")
    uid, usage = out.splitlines()[:2]
    assert uid != "0"
    assert "labchain node" in usage


def test_node_image_has_an_rpc_healthcheck_and_the_node_entrypoint(docker_client, node_image):
    config = docker_client.images.get(node_image.tag).attrs["Config"]
    assert any("healthcheck.py" in part for part in config["Healthcheck"]["Test"])
    assert config["Entrypoint"] == ["labchain", "node"]
    assert config["User"] == "labchain"


def test_images_carry_no_build_tools_nor_wheelhouse(docker_client, node_image):
    out = run(docker_client, node_image.tag, "sh", "-c",
              "for t in gcc cc make g++ apt-get; do command -v $t >/dev/null && echo HAS-$t; done; "
              "ls /wheels /tmp/labchain-wheel 2>/dev/null | wc -l")
    assert "HAS-gcc" not in out and "HAS-cc" not in out and "HAS-make" not in out
    assert out.splitlines()[-1] == "0"


def test_base_python_matches_the_wheelhouse(docker_client, node_image):
    version = images.base_python_version(docker_client, images.image_tag("base"))
    tag = "cp" + version.replace(".", "")
    wheels = list((images.CONTEXT_DIR / "node" / "deps").glob("*.whl"))
    assert wheels
    for wheel in wheels:
        python_tag, abi_tag = wheel.name.split("-")[-3:-1]
        assert abi_tag in (tag, "abi3", "none"), wheel.name
        assert "manylinux" in wheel.name or wheel.name.endswith("-any.whl"), wheel.name


def test_rebuilding_reuses_the_layer_cache(docker_client, node_image):
    lines: list[str] = []
    (again,) = images.build_images(["node"], log=lines.append)
    # the dependency stage and the user/venv copy are always cached; with unchanged code
    # (no colleague editing the tree meanwhile) the whole image is the same image
    assert again.cached >= 4, lines
    assert "wheelhouse docker/context/node/deps is up to date" in "\n".join(lines)
    if any("unchanged:" in line for line in lines):
        assert again.image_id == docker_client.images.get(node_image.tag).id


def test_lab_image_has_jupyterlab_nbgrader_widgets_and_the_student_labs(docker_client, lab_image):
    out = run(docker_client, lab_image.tag, "sh", "-c",
              "id -un; python -c 'import jupyterlab, nbgrader, ipywidgets, labchain.testnet; print(1)'; "
              "cd /home/student/labs && find . -type f | sort")
    user, ok, *files = out.splitlines()
    assert user == "student" and ok == "1"
    expected = sorted("./" + str(p.relative_to(REPO / "labs")) for p in (REPO / "labs").glob("*/*.ipynb"))
    assert files == expected            # the notebooks, not the translation catalogs


def test_lab_image_holds_no_solution_nor_hidden_test(docker_client, lab_image):
    """A student given the lab image could read the sources' hidden tests (it shipped labs/)."""
    out = run(docker_client, lab_image.tag, "sh", "-c",
              "grep -rlE --include='*.ipynb' 'BEGIN (HIDDEN TESTS|SOLUTION)' /home /opt /srv /usr /root /tmp 2>/dev/null | grep -v /site-packages/nbgrader/; echo end")
    assert out.splitlines() == ["end"], out


# the student view inside the lab image (issue #14 §1): `--with-lab` containers and hub students
# submit through LabChain, so nbgrader's instructor tools and its nbgrader-exchange lists are off

_SERVE_AND_PROBE = r"""
jupyter lab --no-browser --ip=127.0.0.1 --port=8899 --ServerApp.token=t --ServerApp.root_dir=/home/student/labs \
    >/tmp/lab.log 2>&1 &
python - <<'PY'
import json, time, urllib.error, urllib.request
def get(path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:8899{path}?token=t", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, ""
    except OSError:
        return None, ""
deadline = time.monotonic() + 90
while get("/api/status")[0] != 200:
    if time.monotonic() > deadline:
        print(json.dumps({"error": "no server", "log": open("/tmp/lab.log").read()[-2000:]})); raise SystemExit
    time.sleep(0.5)
print(json.dumps({p: get(p)[0] for p in ("/formgrader", "/assignments", "/lab")}))
PY
"""


def test_lab_image_serves_the_student_view_without_nbgrader_instructor_tools(docker_client, lab_image):
    from labchain.deploy.lab import STUDENT_DISABLED, STUDENT_SERVER_OFF

    listed = run(docker_client, lab_image.tag, "sh", "-c",
                 "jupyter server extension list 2>&1; jupyter labextension list 2>&1")
    for name in STUDENT_SERVER_OFF:
        assert re.search(rf"{re.escape(name)} \S*disabled", listed), (name, listed)
    assert re.search(r"nbgrader\.server_extensions\.validate_assignment \S*enabled", listed), listed
    disabled = listed.split("Disabled extensions:")[-1].split()
    assert set(STUDENT_DISABLED) <= set(disabled), listed
    assert "@jupyter/nbgrader:validate-assignment" not in disabled

    import json
    status = json.loads(run(docker_client, lab_image.tag, "sh", "-c", _SERVE_AND_PROBE).splitlines()[-1])
    assert "error" not in status, status
    assert status["/lab"] == 200                      # the student's JupyterLab is there...
    assert status["/formgrader"] == 404 and status["/assignments"] == 404     # 200 and 400 when on
