"""The class server for real: configurable-http-proxy + JupyterHub (PostgreSQL database) +
DockerSpawner lab containers + a private Docker testnet per student (docs/hub.md).

One hub serves the whole module (a spawn takes ~20 s); each test names what it checks. Needs
root (firewall rules), Docker, PostgreSQL and configurable-http-proxy: in CI they must exist.
"""
from __future__ import annotations

import json
import os
import shutil

import pytest

from labchain.deploy.hub import HubError, HubSettings
from labchain.deploy.hub.auth import set_password
from labchain.deploy.hub.service import api, hub_down, hub_status, hub_up
from labchain.deploy.hub.spawner import stop_testnet
from labchain.testnet import docker as backend

from dockerkit import PREFIX, cleanup, wait_until
from hubkit import login, run_in_kernel, spawn, user_token
from needs import require, unavailable

pytestmark = pytest.mark.long      # ~5 min: `make test-long` (run by .ci/run after `make test`)

PASSWORD = "correct horse battery"


def postgres_url() -> str:  # the server .ci/system-setup.sh starts (as tests/grading uses)
    return os.environ.get("LABCHAIN_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:55432/postgres")
MINE = """
from labchain.testnet import Testnet
tn = Testnet.connect()
tn.nodes[0].rpc.generate({blocks})
tn.sync_blocks()
print(tn.nodes[2].rpc.getblockcount(), tn.nodes[0].rpc.getbestblockhash())
"""
PROBE = """
import json, socket
out = {{}}
for target in {targets!r}:
    host, port = target.rsplit(":", 1)
    s = socket.socket(); s.settimeout(3)
    code = s.connect_ex((host, int(port)))
    out[target] = "connected" if code == 0 else "unreachable"
    s.close()
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def students():
    return [f"{PREFIX}-hub{n}" for n in (1, 2, 3)]


@pytest.fixture(scope="module")
def hub(tmp_path_factory, docker_client, lab_image, students):
    require("root")
    if shutil.which("configurable-http-proxy") is None:
        unavailable("docker", "configurable-http-proxy is not installed (.ci/system-setup.sh installs it)")
    import psycopg2

    db = f"labchain_hub_{os.getpid()}"
    try:
        conn = psycopg2.connect(postgres_url(), connect_timeout=3)
    except psycopg2.OperationalError as exc:
        unavailable("postgres", f"no PostgreSQL server at {postgres_url()}: {exc}")
    conn.autocommit = True
    conn.cursor().execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    conn.cursor().execute(f"CREATE DATABASE {db}")
    state = tmp_path_factory.mktemp("hub")
    settings = HubSettings(state_dir=state, public_port=18000, proxy_api_port=18001, hub_port=18081,
                           image=lab_image.tag, db_url=f"{postgres_url().rsplit('/', 1)[0].replace('postgresql://', 'postgresql+psycopg2://')}/{db}",
                           nodes=3, cull_idle_timeout=60, cull_every=10, activity_interval=10,
                           release_volume=f"{PREFIX}-hub-release")
    for sid in students:
        set_password(state, sid, PASSWORD)
    hub_up(settings, log=lambda line: None)
    for sid in students:  # a hub user exists from the first login on
        assert login(settings.public_url, sid, PASSWORD).login_status == 302
    yield settings
    try:
        hub_down(state, stop_servers=True, log=lambda line: None)
    finally:
        cleanup(docker_client, students)
        try:
            docker_client.volumes.get(settings.release_volume).remove(force=True)
        except Exception:  # noqa: BLE001 - never made (no spawn) or already gone
            pass
        conn.cursor().execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        conn.close()


def test_a_wrong_password_is_refused_and_a_right_one_logs_in(hub, students):
    assert login(hub.public_url, students[0], "not the password").login_status == 403
    assert login(hub.public_url, students[0], PASSWORD).login_status == 302


def test_two_students_get_their_own_server_and_their_own_chain(hub, students):
    a, b = students[:2]
    spawn(hub, a)
    spawn(hub, b)
    out_a = run_in_kernel(hub.public_url, a, user_token(hub, a), MINE.format(blocks=2)).split()
    out_b = run_in_kernel(hub.public_url, b, user_token(hub, b), MINE.format(blocks=5)).split()
    assert out_a[0] == "2" and out_b[0] == "5"          # each mined on its own chain, 3 nodes synced
    assert out_a[1] != out_b[1]
    assert hub_status(hub.state_dir).servers[a] == "ready"


def test_a_student_reaches_neither_the_other_server_nor_the_other_nodes(hub, students, docker_client):
    a, b = students[:2]
    spawn(hub, a)
    spawn(hub, b)
    b_lab = docker_client.containers.get(f"lc-{b}-hublab")
    b_lab.reload()
    b_lab_ip = b_lab.attrs["NetworkSettings"]["Networks"][backend.LABS_NETWORK]["IPAddress"]
    b_subnet = backend.network_subnet(backend.find_network(docker_client, b))
    a_subnet = backend.network_subnet(backend.find_network(docker_client, a))
    targets = [f"{b_lab_ip}:8888", f"{backend.node_address(b_subnet, 0)}:{backend.RPC_PORT}",
               f"{backend.node_address(a_subnet, 0)}:{backend.RPC_PORT}"]
    seen = json.loads(run_in_kernel(hub.public_url, a, user_token(hub, a), PROBE.format(targets=targets)))
    assert seen == {targets[0]: "unreachable", targets[1]: "unreachable", targets[2]: "connected"}
    # files: B's home volume is not mounted in A's container
    a_lab = docker_client.containers.get(f"lc-{a}-hublab")
    mounts = {m["Name"]: (m["Destination"], m["RW"]) for m in a_lab.attrs["Mounts"] if m["Type"] == "volume"}
    assert mounts == {f"lc-{a}-lab-home": ("/home/student", True), f"lc-{a}-submit": ("/srv/submit", True),
                      f"lc-{a}-feedback": ("/srv/feedback", False), hub.release_volume: ("/srv/release", False)}


SUBMIT = """
import json, pathlib
from labchain.deploy.hub.exchange import submit
nb = pathlib.Path("/tmp/lab01.ipynb")
nb.write_text(json.dumps({{"cells": [], "metadata": {{"who": "{who}"}}, "nbformat": 4, "nbformat_minor": 5}}))
print(submit("lab01", nb))
"""


def test_a_submission_reaches_the_instructors_gather_and_no_other_student(hub, students, tmp_path):
    from labchain.deploy.hub.volumes import gather

    a, b = students[:2]
    spawn(hub, a)
    spawn(hub, b)
    out = run_in_kernel(hub.public_url, a, user_token(hub, a), SUBMIT.format(who=a)).strip()
    assert out.startswith("/srv/submit/lab01/") and out.endswith("Z/lab01.ipynb")   # <stamp>/lab01.ipynb
    seen = run_in_kernel(hub.public_url, b, user_token(hub, b),
                         "import os; print(sorted(os.listdir('/srv/submit')))").strip()
    assert seen == "[]"                                   # B's outbox is B's own, and empty
    found = gather(tmp_path / "incoming").found
    assert list(found[a]) == ["lab01"] and b not in found
    got = json.loads((tmp_path / "incoming" / a / "lab01" / "lab01.ipynb").read_text())
    assert got["metadata"]["who"] == a                  # the layout labchain-grade collect imports
    assert (tmp_path / "incoming" / a / "lab01" / "timestamp.txt").is_file()


HUBLAB = "hublab"


def write_lab(labs) -> None:
    """A small graded lab (one solution cell, one test cell with a hidden test, 2 points)."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    def meta(grade_id, **flags):
        return {"nbgrader": {"grade_id": grade_id, "schema_version": 3, "locked": not flags.get("solution"),
                             "grade": False, "solution": False, **flags}}
    nb = new_notebook(cells=[
        new_markdown_cell("Write `double(x)`."),
        new_code_cell("def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
                      metadata=meta("double", solution=True)),
        new_code_cell("assert double(2) == 4\n### BEGIN HIDDEN TESTS\nassert double(5) == 10\n### END HIDDEN TESTS",
                      metadata=meta("test_double", grade=True, points=2)),
    ])
    (labs / HUBLAB).mkdir(parents=True)
    nbformat.write(nb, labs / HUBLAB / f"{HUBLAB}.ipynb")


FETCH_AND_SUBMIT = """
import json, pathlib
from labchain.deploy.hub.exchange import fetch, submit
folder = fetch("hublab")
nb = folder / "hublab.ipynb"
first = submit("hublab", nb)                         # the untouched student version
book = json.loads(nb.read_text())
for cell in book["cells"]:
    if cell["metadata"].get("nbgrader", {}).get("solution"):
        cell["source"] = "def double(x):\\n    return x + x"
nb.write_text(json.dumps(book))
second = submit("hublab", nb)
again = fetch("hublab")                              # the solved notebook is not overwritten
print(json.dumps([str(folder), str(again), str(first), str(second)]))
"""
READ_FEEDBACK = """
import hashlib, json, os
from labchain.deploy.hub.exchange import feedback
pages = feedback("hublab")
print(json.dumps([str(p) for p in pages] + [hashlib.sha256(pages[0].read_bytes()).hexdigest()]))
"""
B_LOOKS = """
import json, os
out = {"feedback": sorted(os.listdir("/srv/feedback")), "release": sorted(os.listdir("/srv/release"))}
try:
    open("/srv/release/hublab/mine.txt", "w")
    out["write"] = "written"
except OSError as exc:
    out["write"] = type(exc).__name__
try:
    from labchain.deploy.hub.exchange import feedback
    feedback("hublab")
except Exception as exc:
    out["error"] = str(exc)
print(json.dumps(out))
"""
PLANT = """
import os
os.symlink("/etc", "/srv/submit/etc")
open("/srv/submit/hublab/notes.txt", "w").write("stray")
print("planted")
"""


def _score(course, student) -> str:
    import csv

    rows = {r[0]: r for r in csv.reader((course / "exports" / "grades-canvas.csv").open())}
    return rows[student][-1]                            # Student, ID, ..., <the one lab>


@pytest.mark.timeout(900)
def test_a_released_lab_is_fetched_submitted_twice_graded_and_only_its_author_sees_the_feedback(
        hub, students, tmp_path, docker_client):
    import hashlib

    from labchain.deploy.hub.volumes import gather, release, return_feedback
    from hubkit import grade

    a, b = students[:2]
    write_lab(tmp_path / "labs")
    course = tmp_path / "course"
    grade("init", course, "--labs-dir", tmp_path / "labs")
    grade("generate", "--course", course)
    assert release(course, HUBLAB, hub.release_volume).replaced is False   # no image rebuild
    spawn(hub, a)
    spawn(hub, b)
    folder, again, first, second = json.loads(run_in_kernel(
        hub.public_url, a, user_token(hub, a), FETCH_AND_SUBMIT).strip().splitlines()[-1])
    assert folder == f"/home/student/labs/{HUBLAB}" and again == f"/home/student/labs/{HUBLAB}-2"
    assert first != second
    assert run_in_kernel(hub.public_url, a, user_token(hub, a), PLANT).strip() == "planted"

    got = gather(tmp_path / "incoming")
    assert got.found[a][HUBLAB].count == 2 and got.found[a][HUBLAB].newest == second.split("/")[-2]
    assert b not in got.found
    said = "\n".join(got.skipped)
    assert f"{a}: etc in the outbox is not a lab folder (a symbolic link)" in said
    assert f"{a}: {HUBLAB}/notes.txt is not a submission (a file)" in said
    assert not (tmp_path / "incoming" / a / "etc").exists()

    grade("collect", "--course", course, tmp_path / "incoming")
    grade("autograde", HUBLAB, "--course", course, "--sandbox", "os")
    grade("export", "--course", course, "--format", "canvas")
    assert float(_score(course, a)) == 2                # the newest (solved) submission was graded
    grade("feedback", "--course", course)
    page = course / "feedback" / a / HUBLAB / f"{HUBLAB}.html"
    assert page.is_file()
    returned = return_feedback(course)
    assert returned.delivered == {a: [HUBLAB]}

    said, listed = run_in_kernel(hub.public_url, a, user_token(hub, a), READ_FEEDBACK).strip().splitlines()
    assert said.startswith(f"your feedback on {HUBLAB} is in /home/student/labs/feedback/{HUBLAB}")
    *paths, digest = json.loads(listed)
    assert paths == [f"/home/student/labs/feedback/{HUBLAB}/{HUBLAB}.html"]
    assert digest == hashlib.sha256(page.read_bytes()).hexdigest()    # A sees A's own page
    seen = json.loads(run_in_kernel(hub.public_url, b, user_token(hub, b), B_LOOKS).strip())
    assert seen["feedback"] == [] and seen["release"] == [HUBLAB]     # B: the release, none of A's feedback
    assert seen["write"] in ("OSError", "PermissionError")           # the release is read-only
    assert "no feedback on hublab" in seen["error"]
    b_lab = docker_client.containers.get(f"lc-{b}-hublab")
    assert not [m for m in b_lab.attrs["Mounts"] if a in (m.get("Name") or "")]


def test_the_culler_stops_an_idle_server_and_its_nodes_and_a_new_login_resumes_the_chain(
        hub, students, docker_client):
    c = students[2]
    spawn(hub, c)
    height = run_in_kernel(hub.public_url, c, user_token(hub, c), MINE.format(blocks=3)).split()[0]
    assert height == "3"
    wait_until(lambda: not (api(hub, "GET", f"/users/{c}").get("servers") or {}), 150,
               "the idle culler to stop the server")
    nodes = [docker_client.containers.get(backend.node_name(c, i)) for i in range(3)]
    for node in nodes:
        node.reload()
    assert {node.status for node in nodes} == {"exited"}   # stopped, not removed
    assert docker_client.volumes.get(backend.volume_name(c, 0))
    spawn(hub, c)
    again = run_in_kernel(hub.public_url, c, user_token(hub, c), MINE.format(blocks=1)).split()[0]
    assert again == "4"                                     # the chain survived the cull


def test_a_hub_restart_keeps_a_running_lab_server_reachable(hub, students):
    a = students[0]
    spawn(hub, a)
    token = user_token(hub, a)
    hub_down(hub.state_dir, keep_proxy=True, log=lambda line: None)
    try:
        import requests
        r = requests.get(f"{hub.public_url}/user/{a}/api/status",
                         headers={"Authorization": f"token {token}"}, timeout=10)
        # the proxy still routes to the lab server; without the hub the server cannot check the
        # token, but the answer comes from the lab server itself, not from the proxy's error page
        assert r.status_code in (200, 403, 500, 502) and "configurable-http-proxy" not in r.text
    finally:
        hub_up(hub, log=lambda line: None)
    assert run_in_kernel(hub.public_url, a, user_token(hub, a), "print(1 + 1)").strip() == "2"


def test_a_student_whose_testnet_cannot_start_gets_the_reason_and_others_are_unaffected(
        hub, students, docker_client, node_image):
    broken = f"{PREFIX}-hubx"
    set_password(hub.state_dir, broken, PASSWORD)
    assert login(hub.public_url, broken, PASSWORD).login_status == 302
    # a foreign container holding the name of the student's first node: `up` must fail
    squatter = docker_client.containers.create(node_image.tag, name=backend.node_name(broken, 0),
                                               command=["sleep", "1"])
    try:
        with pytest.raises((HubError, RuntimeError)):
            spawn(hub, broken, timeout=120)
        model = api(hub, "GET", f"/users/{broken}")
        assert not (model.get("servers") or {})
        log = (hub.state_dir / "jupyterhub.log").read_text(errors="replace")
        assert "your private testnet did not start" in log
        assert run_in_kernel(hub.public_url, students[0], user_token(hub, students[0]),
                             "print('still fine')").strip() == "still fine"
    finally:
        squatter.remove(force=True)
        cleanup(docker_client, [broken])


def test_hub_up_names_a_missing_image_and_a_port_in_use(hub, tmp_path, docker_client):
    with pytest.raises(HubError, match="labchain/lab:no-such-tag is not built"):
        hub_up(HubSettings(state_dir=tmp_path / "a", image="labchain/lab:no-such-tag",
                           public_port=18100, proxy_api_port=18101, hub_port=18181))
    with pytest.raises(HubError, match=r"port 18000 on 127.0.0.1 \(public_port\) is already in use"):
        hub_up(HubSettings(state_dir=tmp_path / "b", image=hub.image, public_port=18000,
                           proxy_api_port=18201, hub_port=18281))
    assert not (tmp_path / "a" / "secrets").exists()    # nothing was created


def test_stop_testnet_stops_only_that_students_nodes(hub, students, docker_client):
    a, b = students[:2]
    spawn(hub, a)
    spawn(hub, b)
    api(hub, "DELETE", f"/users/{b}/server", timeout=60)
    wait_until(lambda: not (api(hub, "GET", f"/users/{b}").get("servers") or {}), 60, "b's server to stop")
    node_b = docker_client.containers.get(backend.node_name(b, 0))
    wait_until(lambda: node_b.reload() or node_b.status == "exited", 60, "b's nodes to stop")
    assert docker_client.containers.get(backend.node_name(a, 0)).status == "running"
    assert stop_testnet(b) == 0                          # nothing left running to stop
