"""Fixtures for tests against a real Docker engine (images, student testnets, classes).

Without an engine these tests skip with the reason; with ``LABCHAIN_REQUIRE_DOCKER=1`` (CI)
they fail instead. Images are (re)built once per session from this checkout -- a warm build
takes seconds thanks to the layer cache. Every student id a test uses starts with a random
per-session prefix, and everything labelled with such an id is removed at the end.
"""
from __future__ import annotations

import os
import socket
import threading

import pytest

from labchain import images
from labchain.testnet import docker as backend

from dockerkit import PREFIX, cleanup

from needs import unavailable  # noqa: E402  (skip, or fail under LABCHAIN_REQUIRE_ALL/_DOCKER)


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/docker/" in item.path.as_posix():
            item.add_marker(pytest.mark.docker)


@pytest.fixture(scope="session")
def docker_client():
    try:
        client = backend.connect()
    except backend.DockerUnavailableError as exc:
        unavailable("docker", f"no Docker engine here ({exc})")
    return client


def _build(kinds):
    lines = []
    try:
        return images.build_images(kinds, log=lines.append)
    except Exception as exc:  # noqa: BLE001 - shown with the build's own output
        message = f"building {kinds} failed: {exc}\n" + "\n".join(lines[-30:])
        if os.geteuid() == 0:
            pytest.fail(message)
        unavailable("docker", message)


@pytest.fixture(scope="session")
def node_image(docker_client):
    """labchain/node built from this checkout (seconds when cached)."""
    return _build(["node"])[0]


@pytest.fixture(scope="session")
def lab_image(docker_client, node_image):
    return _build(["lab"])[0]


@pytest.fixture(scope="session")
def _student_counter(docker_client):
    """Student numbers unique over the session; whatever is left is removed at its end."""
    yield iter(range(1, 10_000))
    cleanup(docker_client)


@pytest.fixture()
def student_ids(docker_client, _student_counter):
    """``student_ids(n)`` -> n fresh ids with this session's prefix; their containers, networks
    and volumes are removed when the test ends (not at the end of the session: ~40 idle node
    containers and their health checks would load every later test)."""
    made: list[str] = []

    def make(n: int = 1) -> list[str]:
        made.extend(f"{PREFIX}-s{next(_student_counter):03d}" for _ in range(n))
        return made[-n:]

    yield make
    cleanup(docker_client, made)


@pytest.fixture()
def host_listener():
    """A TCP server on every host address (0.0.0.0) that records who connected: a target that
    is on this machine, for 'can a container reach the host?'."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", 0))
    server.listen(16)
    server.settimeout(0.2)
    seen: list[str] = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, addr = server.accept()
            except OSError:
                continue
            seen.append(addr[0])
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], seen
    stop.set()
    thread.join()
    server.close()


