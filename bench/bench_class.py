"""A class on one host: time to bring up 20 students x 3 nodes from cached images, memory per
student testnet, and how many students a 24 GiB host would hold.

Uses the real ``labchain class up`` path (``labchain.deploy.classroom.class_up``, 8 students
in parallel, each returning once all its nodes answer RPC), then waits for the nodes to
settle (20 s, past the first healthcheck) and reads memory two ways:

* ``docker stats``: usage minus page cache of each node container, summed per student;
* the host's ``MemAvailable`` drop while the class is up, per student (adds what Docker's
  per-container machinery -- containerd shims, the docker-init -- costs and stats don't show).

Students per host = (24 GiB - 2 GiB left for the OS and dockerd) / memory per student, from
the larger of the two figures. Needs a Docker engine and the images (``make images``); the
students are named ``bench-sNNN`` and removed at the end, also after a failure.
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine_note, table  # noqa: E402

from labchain.deploy import classroom  # noqa: E402
from labchain.testnet import docker as backend  # noqa: E402

STUDENTS, NODES, PARALLEL = 20, 3, 8
HOST_GIB, RESERVED_GIB = 24, 2


def mem_available() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no MemAvailable in /proc/meminfo")


def main() -> int:
    try:
        backend.connect()
    except backend.DockerUnavailableError as exc:
        print(f"skipped: {exc}")
        return 0
    ids = [f"bench-s{i:03d}" for i in range(1, STUDENTS + 1)]
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
        f.write("student\n" + "\n".join(ids) + "\n")
    roster = classroom.read_roster(f.name)
    classroom.class_down(ids, progress=False)             # a clean start
    before = mem_available()
    try:
        began = time.perf_counter()
        result = classroom.class_up(roster, nodes=NODES, parallel=PARALLEL, progress=False)
        up_seconds = time.perf_counter() - began
        if not result.ok:
            print(f"failed students: {result.failed}")
            return 1
        time.sleep(20)                                     # > one healthcheck interval
        _, statuses = classroom.class_status(ids)
        after = mem_available()
        per_student_stats = [st.memory for st in statuses.values()]
        per_node = [n.memory for st in statuses.values() for n in st.nodes if n.memory]
        healthy = sum(st.healthy for st in statuses.values())
    finally:
        began = time.perf_counter()
        classroom.class_down(ids, progress=False)
        down_seconds = time.perf_counter() - began
        Path(f.name).unlink()
    mib = 2 ** 20
    stats_mean = statistics.mean(per_student_stats)
    host_per_student = (before - after) / STUDENTS
    per_student = max(stats_mean, host_per_student)
    capacity = int((HOST_GIB - RESERVED_GIB) * 2 ** 30 / per_student)
    print(f"class of {STUDENTS} students x {NODES} nodes, {PARALLEL} in parallel; {machine_note()}")
    print(table(["figure", "value"], [
        ["class up (s, cached images, until every node answers RPC)", round(up_seconds, 1)],
        ["  per student (s)", round(up_seconds / STUDENTS, 2)],
        ["class down (s)", round(down_seconds, 1)],
        ["nodes healthy after 20 s", f"{healthy}/{STUDENTS * NODES}"],
        ["memory per node, docker stats (MiB, median)", round(statistics.median(per_node) / mib, 1)],
        ["memory per student, docker stats (MiB, mean)", round(stats_mean / mib, 1)],
        ["memory per student, host MemAvailable drop (MiB)", round(host_per_student / mib, 1)],
        [f"students per {HOST_GIB} GiB host ({RESERVED_GIB} GiB reserved)", capacity],
    ]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
