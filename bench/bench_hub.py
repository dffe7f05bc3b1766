"""The class server under a class's first minute: N students log in at the same moment.

Starts the real hub (``labchain.deploy.hub.service.hub_up``: configurable-http-proxy,
JupyterHub, the LabChain spawner = DockerSpawner + a private 3-node Docker testnet per student)
on loopback with local passwords, then N threads each log in through the hub's login form and
ask for their server (``/hub/spawn/<id>``, what the browser does after login), all released at
once by a barrier. Measured:

* time from the barrier until each server is ready (the hub's ``ready`` flag, which comes after
  the spawner's ``start``: testnet up and answering RPC, lab container started, its
  ``jupyterhub-singleuser`` answering the hub); the class is "all ready" at the last one;
* memory per *active* student: every student gets one kernel started (the REST API through the
  proxy), then after a settle period ``docker stats --no-stream`` (usage less page cache, as the
  docker CLI reports it) of the student's lab container and node containers, summed per student.

Usage: ``sudo .venv/bin/python bench/bench_hub.py [N] [--deadline S]`` (default 20, 900 s).
Needs root (the hub's firewall rules), Docker, the images (``make images``) and
configurable-http-proxy. Students are ``bench-hNNN``; they, their containers and volumes are
removed at the end, also after a failure. Figures move with the machine's load: the line with
the load average is part of the result.
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine_note, table  # noqa: E402

from labchain.deploy.hub import HubSettings  # noqa: E402
from labchain.deploy.hub.auth import set_password  # noqa: E402
from labchain.deploy.hub.service import api, hub_down, hub_up  # noqa: E402
from labchain.deploy.images import image_tag  # noqa: E402
from labchain.testnet import docker as backend  # noqa: E402

PASSWORD = "bench horse battery"
PORT = 18500                        # public; +1 proxy API, +81 hub
UNITS = {"B": 1 / 2**20, "KiB": 1 / 1024, "MiB": 1, "GiB": 1024, "kB": 1e3 / 2**20, "MB": 1e6 / 2**20,
         "GB": 1e9 / 2**20}


def log_in_and_spawn(base: str, user: str, barrier: threading.Barrier, out: dict) -> None:
    """One student's browser: the login form, then the spawn request; the session is kept."""
    session = requests.Session()
    try:
        session.get(f"{base}/hub/login", timeout=60)
        barrier.wait()
        out[user] = {"t0": time.perf_counter()}
        r = session.post(f"{base}/hub/login", allow_redirects=False, timeout=120,
                         data={"username": user, "password": PASSWORD, "_xsrf": session.cookies.get("_xsrf")})
        if r.status_code != 302:
            raise RuntimeError(f"login answered {r.status_code}")
        out[user]["login_s"] = time.perf_counter() - out[user]["t0"]
        # what the browser does next; answers with the spawn-pending page while the spawn runs
        session.get(f"{base}/hub/spawn/{user}", allow_redirects=False, timeout=300)
    except Exception as exc:  # noqa: BLE001 - reported per student
        out.setdefault(user, {})["error"] = f"{type(exc).__name__}: {exc}"


def wait_ready(settings, users: list[str], began: float, deadline: float, out: dict) -> None:
    while time.perf_counter() < deadline:
        waiting = [u for u in users if "ready_s" not in out[u] and "error" not in out[u]]
        if not waiting:
            return
        for model in api(settings, "GET", "/users", timeout=60):
            name = model["name"]
            if name in waiting:
                server = (model.get("servers") or {}).get("")
                if server and server.get("ready") and model.get("pending") is None:
                    out[name]["ready_s"] = time.perf_counter() - began
        time.sleep(1)


def start_kernels(settings, users: list[str]) -> dict[str, str]:
    kernels = {}
    for user in users:
        token = api(settings, "POST", f"/users/{user}/tokens",
                    {"scopes": [f"access:servers!user={user}"], "expires_in": 3600, "note": "bench"})["token"]
        r = requests.post(f"{settings.public_url}/user/{user}/api/kernels", json={}, timeout=120,
                          headers={"Authorization": f"token {token}"})
        r.raise_for_status()
        kernels[user] = r.json()["id"]
    return kernels


def mib(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)\s*([A-Za-z]+)", text.strip())
    if not m or m.group(2) not in UNITS:
        raise ValueError(f"docker stats printed memory as {text!r}")
    return float(m.group(1)) * UNITS[m.group(2)]


def memory_per_student(users: list[str]) -> dict[str, dict[str, float]]:
    """{student: {"lab": MiB, "nodes": MiB}} from one ``docker stats --no-stream``."""
    out = subprocess.run(["docker", "stats", "--no-stream", "--format", "{{json .}}"],
                         capture_output=True, text=True, timeout=600, check=True).stdout
    per = {u: {"lab": 0.0, "nodes": 0.0} for u in users}
    for line in out.splitlines():
        row = json.loads(line)
        name, used = row["Name"], mib(row["MemUsage"].split("/")[0])
        for user in users:
            if name == f"lc-{user}-hublab":
                per[user]["lab"] += used
            elif name.startswith(f"lc-{user}-"):
                per[user]["nodes"] += used
    return per


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("students", type=int, nargs="?", default=20)
    parser.add_argument("--deadline", type=float, default=900.0, help="seconds to wait for all servers")
    parser.add_argument("--settle", type=float, default=20.0, help="seconds between kernels and docker stats")
    args = parser.parse_args()
    users = [f"bench-h{n:03d}" for n in range(1, args.students + 1)]
    state = Path(tempfile.mkdtemp(prefix="bench-hub-"))
    settings = HubSettings(state_dir=state, public_port=PORT, proxy_api_port=PORT + 1, hub_port=PORT + 81,
                           image=image_tag("lab"), nodes=3,
                           concurrent_spawn_limit=max(20, args.students),
                           cull_idle_timeout=3600)
    for user in users:
        set_password(state, user, PASSWORD)
    client = backend.connect()
    for user in users:
        backend.down(user, client=client, missing_ok=True)    # a clean start
    print(f"{args.students} students, 3 nodes each; {machine_note()}", flush=True)
    hub_up(settings, log=lambda line: None)
    out: dict[str, dict] = {}
    try:
        barrier = threading.Barrier(len(users) + 1)
        threads = [threading.Thread(target=log_in_and_spawn, args=(settings.public_url, u, barrier, out), daemon=True)
                   for u in users]
        for t in threads:
            t.start()
        barrier.wait()
        began = time.perf_counter()
        for t in threads:
            t.join(timeout=args.deadline)
        wait_ready(settings, users, began, began + args.deadline, out)
        ready = [u for u in users if "ready_s" in out[u]]
        times = sorted(out[u]["ready_s"] for u in ready)
        load_at_ready = machine_note()
        kernels = start_kernels(settings, ready)
        time.sleep(args.settle)
        per = memory_per_student(ready)
        totals = [per[u]["lab"] + per[u]["nodes"] for u in ready]
        rows = [
            ["students logging in at once", args.students],
            ["servers ready (incl. testnet)", len(ready)],
            ["first ready (s)", round(times[0], 1) if times else None],
            ["median ready (s)", round(statistics.median(times), 1) if times else None],
            ["all ready (s)" if len(ready) == len(users) else "last ready (s)", round(times[-1], 1) if times else None],
            ["login answer, median (s)", round(statistics.median(o["login_s"] for o in out.values() if "login_s" in o), 2)
             if any("login_s" in o for o in out.values()) else None],
            ["kernels started", len(kernels)],
            ["MiB per active student, median", round(statistics.median(totals), 1) if totals else None],
            ["  of which lab server + kernel", round(statistics.median(per[u]["lab"] for u in ready), 1) if ready else None],
            ["  of which 3 nodes", round(statistics.median(per[u]["nodes"] for u in ready), 1) if ready else None],
            ["MiB per active student, max", round(max(totals), 1) if totals else None],
        ]
        print(table(["figure", "value"], rows))
        print(f"at the last ready server: {load_at_ready}")
        print(f"after docker stats: {machine_note()}")
        for user in users:
            if "error" in out.get(user, {}) or "ready_s" not in out.get(user, {}):
                print(f"  {user}: not ready ({out.get(user, {}).get('error', 'deadline passed')})")
        return 0 if len(ready) == len(users) else 1
    finally:
        hub_down(state, stop_servers=True, log=lambda line: None)
        for user in users:
            backend.down(user, client=client, missing_ok=True)
        if not backend.students(client):
            for net in client.networks.list(names=[backend.LABS_NETWORK]):
                net.remove()


if __name__ == "__main__":
    sys.exit(main())
