"""``labchain class up|status|down`` for a roster: idempotent, failures per student, clean
teardown, and bad input that creates nothing."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from labchain.deploy.images import ImageMissingError
from labchain.deploy import classroom
from labchain.testnet import docker as backend

from dockerkit import leftovers

REPO = Path(__file__).resolve().parents[2]


def write_roster(path: Path, ids: list[str], header: str = "student,name") -> Path:
    path.write_text(header + "\n" + "".join(f"{sid},Student {n}\n" for n, sid in enumerate(ids)))
    return path


def labchain_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labchain.cli", *args], capture_output=True,
                          text=True, cwd=REPO, timeout=600)


def test_class_of_ten_up_twice_then_down_leaves_nothing(docker_client, node_image, student_ids, tmp_path):
    ids = student_ids(10)
    roster = classroom.read_roster(write_roster(tmp_path / "roster.csv", ids))
    first = classroom.class_up(roster, nodes=1, parallel=4, progress=False)
    assert first.ok, first.failed
    assert first.done == sorted(ids)
    containers = {c.name: c.id for sid in ids for c in backend._containers(docker_client, sid)}
    assert len(containers) == 10

    again = classroom.class_up(roster, nodes=1, parallel=4, progress=False)   # idempotent
    assert again.ok and {c.name: c.id for sid in ids for c in backend._containers(docker_client, sid)} == containers

    result, statuses = classroom.class_status(ids)
    assert result.ok and sorted(statuses) == sorted(ids)
    assert all(len(st.nodes) == 1 and st.nodes[0].height == 0 for st in statuses.values())
    table = classroom.format_status(statuses, result.failed)
    assert all(sid in table for sid in ids) and "healthy" in table.splitlines()[0]

    down = classroom.class_down(ids, progress=False)
    assert down.ok
    assert [name for sid in ids for name in leftovers(docker_client, sid)] == []


def test_a_failing_student_is_reported_and_the_others_come_up(docker_client, node_image, student_ids, tmp_path):
    ok1, broken, ok2 = student_ids(3)
    backend.up(broken, nodes=2, client=docker_client)      # conflicts with --nodes 1 below
    roster = classroom.read_roster(write_roster(tmp_path / "roster.csv", [ok1, broken, ok2]))
    result = classroom.class_up(roster, nodes=1, progress=False)
    assert result.done == sorted([ok1, ok2])
    assert list(result.failed) == [broken] and "already has a testnet with 2 nodes" in result.failed[broken]


def test_cli_class_up_status_down(docker_client, node_image, student_ids, tmp_path):
    ids = student_ids(2)
    roster = write_roster(tmp_path / "roster.csv", ids)
    up = labchain_cli("class", "up", "--roster", str(roster), "--nodes", "1")
    assert up.returncode == 0, up.stderr
    assert "2 student(s) ok, 0 failed" in up.stdout
    status = labchain_cli("class", "status", "--roster", str(roster))
    assert status.returncode == 0, status.stderr
    assert all(sid in status.stdout for sid in ids)
    down = labchain_cli("class", "down", "--roster", str(roster))
    assert down.returncode == 0 and [n for sid in ids for n in leftovers(docker_client, sid)] == []


# --- bad input ----------------------------------------------------------------------------

@pytest.mark.parametrize("rows, message", [
    ("student,name\ns001,Ada\nS 02!,Bob\n", r"roster.csv:3: 'S 02!' is not a valid student id"),
    ("student,name\ns001,Ada\ns002\n", r"roster.csv:3: expected 2 fields"),
    ("student,name\ns001,Ada\ns001,Ada again\n", r"roster.csv:3: student s001 is listed twice"),
    ("name,email\nAda,a@example.org\n", r"needs a 'student' column"),
    ("student\n", r"lists no students"),
])
def test_malformed_roster_is_rejected_with_its_line(tmp_path, rows, message):
    path = tmp_path / "roster.csv"
    path.write_text(rows)
    with pytest.raises(classroom.RosterError, match=message):
        classroom.read_roster(path)


def test_cli_malformed_roster_creates_nothing(docker_client, student_ids, tmp_path):
    good, _ = student_ids(2)
    path = tmp_path / "roster.csv"
    path.write_text(f"student,name\n{good},Ada\n,Nobody\n")
    result = labchain_cli("class", "up", "--roster", str(path), "--nodes", "1")
    assert result.returncode == 1
    assert "roster.csv:3:" in result.stderr and "not a valid student id" in result.stderr
    assert leftovers(docker_client, good) == []


def test_roster_larger_than_the_subnet_pool_creates_nothing(docker_client, node_image, student_ids, tmp_path):
    ids = student_ids(3)
    pool = "10.210.255.224/27"                       # room for two /28 networks only
    settings = backend.DockerSettings(subnet_pool=pool)
    roster = classroom.read_roster(write_roster(tmp_path / "roster.csv", ids))
    with pytest.raises(backend.SubnetPoolExhaustedError, match="needs 3 new networks .* only 2 free"):
        classroom.class_up(roster, nodes=1, settings=settings, progress=False)
    assert [n for sid in ids for n in leftovers(docker_client, sid)] == []


def test_missing_image_stops_class_up_before_anything_is_made(docker_client, student_ids, tmp_path):
    ids = student_ids(2)
    settings = backend.DockerSettings(node_image="labchain/node:0.0.0-never-built")
    roster = classroom.read_roster(write_roster(tmp_path / "roster.csv", ids))
    with pytest.raises(ImageMissingError):
        classroom.class_up(roster, nodes=1, settings=settings, progress=False)
    assert [n for sid in ids for n in leftovers(docker_client, sid)] == []


def test_status_of_an_unknown_student_is_a_clear_error(docker_client, student_ids):
    (sid,) = student_ids(1)
    result = labchain_cli("class", "status", "--student", sid)
    assert result.returncode == 1
    assert f"no testnet for: {sid}" in result.stderr


def test_too_many_nodes_per_student_is_refused_before_anything_is_made(docker_client, student_ids, tmp_path):
    ids = student_ids(2)
    roster = classroom.read_roster(write_roster(tmp_path / "roster.csv", ids))
    with pytest.raises(backend.DockerTestnetError, match="1 to 12 nodes, not 13"):
        classroom.class_up(roster, nodes=13, progress=False)
    assert [n for sid in ids for n in leftovers(docker_client, sid)] == []
