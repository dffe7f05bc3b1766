"""Docker Swarm engine: time for N student stacks (3 nodes each) to be healthy, memory per student.

Uses the real ``labchain class up --engine swarm`` path (``classroom.class_up(engine="swarm")``,
each student returning once all its nodes' tasks answer RPC through ``docker exec``), then
waits 20 s (past the first healthcheck) and reads memory with ``docker stats`` (usage minus
page cache, summed over a student's node containers) and the host's ``MemAvailable`` drop.

If this engine is not a swarm manager, a one-node swarm is made on loopback and left at the
end (with its docker_gwbridge), as the test fixture does. Students are ``bench-swNNN``.
``BENCH_SWARM_STUDENTS`` (default 10) sets N.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine_note, table  # noqa: E402
from bench_class import mem_available  # noqa: E402

from labchain.deploy import classroom  # noqa: E402
from labchain.testnet import docker as backend  # noqa: E402

STUDENTS = int(os.environ.get("BENCH_SWARM_STUDENTS", "10"))
NODES, PARALLEL = 3, 4


def main() -> int:
    try:
        client = backend.connect()
    except backend.DockerUnavailableError as exc:
        print(f"skipped: {exc}")
        return 0
    made = (client.info().get("Swarm") or {}).get("LocalNodeState") != "active"
    had_gwbridge = bool(client.networks.list(names=["docker_gwbridge"]))
    if made:
        subprocess.run(["docker", "swarm", "init", "--advertise-addr", "127.0.0.1",
                        "--default-addr-pool", "10.220.0.0/16"], check=True, capture_output=True)
    ids = [f"bench-sw{i:03d}" for i in range(1, STUDENTS + 1)]
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
        f.write("student\n" + "\n".join(ids) + "\n")
    try:
        classroom.class_down(ids, progress=False, engine="swarm")
        before = mem_available()
        began = time.perf_counter()
        result = classroom.class_up(classroom.read_roster(f.name), nodes=NODES, parallel=PARALLEL,
                                    progress=False, engine="swarm")
        up_seconds = time.perf_counter() - began
        if not result.ok:
            print(f"failed students: {result.failed}")
            return 1
        time.sleep(20)
        _, statuses = classroom.class_status(ids, engine="swarm")
        after = mem_available()
        healthy = sum(st.healthy for st in statuses.values())
        per_student = [st.memory for st in statuses.values()]
        per_node = [n.memory for st in statuses.values() for n in st.nodes if n.memory]
    finally:
        began = time.perf_counter()
        classroom.class_down(ids, progress=False, engine="swarm")
        down_seconds = time.perf_counter() - began
        Path(f.name).unlink()
        if made:
            subprocess.run(["docker", "swarm", "leave", "--force"], check=True, capture_output=True)
            if not had_gwbridge:
                for net in client.networks.list(names=["docker_gwbridge"]):
                    net.remove()
    mib = 2 ** 20
    print(f"{STUDENTS} swarm stacks x {NODES} nodes, {PARALLEL} deployed in parallel; {machine_note()}")
    print(table(["figure", "value"], [
        ["class up --engine swarm (s, until every task answers RPC)", round(up_seconds, 1)],
        ["  per student (s)", round(up_seconds / STUDENTS, 2)],
        ["class down (s, stack rm + volumes)", round(down_seconds, 1)],
        ["nodes healthy after 20 s", f"{healthy}/{STUDENTS * NODES}"],
        ["memory per node, docker stats (MiB, median)", round(statistics.median(per_node) / mib, 1)],
        ["memory per student, docker stats (MiB, mean)", round(statistics.mean(per_student) / mib, 1)],
        ["memory per student, host MemAvailable drop (MiB)", round((before - after) / STUDENTS / mib, 1)],
    ]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
