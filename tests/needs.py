"""What a test needs from the machine (Docker, PostgreSQL, root), in one place.

``require("root")`` at the top of a test (or the ``needs_root`` mark) skips it with the
reason when the machine lacks it, and FAILS it instead when the run must not skip:

- ``LABCHAIN_REQUIRE_ALL=1`` (set by ``.ci/run``): every requirement is mandatory;
- ``LABCHAIN_REQUIRE_DOCKER=1`` (the older switch, kept as an alias for Docker alone);
- ``CI=true``: PostgreSQL, Prometheus, Redis and Chromium are mandatory (as before for PostgreSQL).

So a CI run cannot pass with the root-only isolation tests quietly skipped.
"""
from __future__ import annotations

import os

import pytest

KINDS = ("docker", "postgres", "root", "prometheus", "redis", "chromium")


def mandatory(kind: str) -> bool:
    """True when a missing ``kind`` must fail the test instead of skipping it."""
    if kind not in KINDS:
        raise ValueError(f"unknown requirement {kind!r}; known: {', '.join(KINDS)}")
    env = os.environ
    return (env.get("LABCHAIN_REQUIRE_ALL") == "1"
            or (kind == "docker" and env.get("LABCHAIN_REQUIRE_DOCKER") == "1")
            or (kind in ("postgres", "prometheus", "redis", "chromium") and env.get("CI") == "true"))


def unavailable(kind: str, reason: str) -> None:
    """``kind`` is missing here, because ``reason``: fail or skip (see the module docstring)."""
    if mandatory(kind):
        pytest.fail(f"this test needs {kind} and this run requires it "
                    f"(LABCHAIN_REQUIRE_ALL/LABCHAIN_REQUIRE_DOCKER/CI): {reason}")
    pytest.skip(f"needs {kind}: {reason}")


def require(kind: str) -> None:
    """Skip (or fail, see above) unless the machine has ``kind``. Docker and PostgreSQL are
    checked by their fixtures, which call ``unavailable`` with the real error."""
    if kind == "root":
        if os.geteuid() != 0:
            unavailable("root", "it runs as uid %d; the sandbox user, namespaces and firewall "
                                "rules need root" % os.geteuid())
        return
    if kind == "docker":
        from labchain.testnet import docker as backend
        try:
            backend.connect()
        except backend.DockerUnavailableError as exc:
            unavailable("docker", str(exc))
        return
    if kind == "prometheus":  # Debian's prometheus package (.ci/system-setup.sh installs it)
        import shutil

        if not (shutil.which("prometheus") or os.path.exists("/usr/bin/prometheus")):
            unavailable("prometheus", "no prometheus binary on PATH or at /usr/bin/prometheus "
                                      "(apt-get install prometheus)")
        return
    if kind == "chromium":  # Debian's chromium + PyPI's playwright (explorer end-to-end tests)
        import importlib.util

        if not os.path.exists(CHROMIUM):
            unavailable("chromium", f"no browser at {CHROMIUM} (apt-get install chromium)")
        if importlib.util.find_spec("playwright") is None:
            unavailable("chromium", "the playwright package is not installed (pip install playwright)")
        return
    if kind == "redis":  # Debian's redis-server, started by .ci/system-setup.sh on 127.0.0.1:56379
        import socket
        from urllib.parse import urlsplit

        url = urlsplit(redis_url())
        try:
            with socket.create_connection((url.hostname, url.port or 6379), timeout=3) as sock:
                sock.sendall(b"PING\r\n")
                if not sock.recv(64).startswith(b"+PONG"):
                    raise OSError("it did not answer PING with PONG")
        except OSError as exc:
            unavailable("redis", f"no Redis server at {redis_url()} (.ci/system-setup.sh starts "
                                 f"one; or set LABCHAIN_TEST_REDIS): {exc}")
        return
    raise ValueError(f"require({kind!r}): use the postgres_db fixture for PostgreSQL")


CHROMIUM = os.environ.get("LABCHAIN_CHROMIUM", "/usr/bin/chromium")


def redis_url() -> str:
    """The test Redis server (the Celery broker of tests/grading/queue)."""
    return os.environ.get("LABCHAIN_TEST_REDIS", "redis://127.0.0.1:56379/0")


#: ``@needs_root`` on a test (or ``pytestmark = needs_root``): ``require("root")`` first
needs_root = pytest.mark.usefixtures("root_required")


def unsandboxed_ok() -> bool:
    """Tests may grade without a real sandbox (``allow_unsandboxed``): only a developer's
    non-root run that does not require root; as root or in CI the real sandbox is used."""
    return os.geteuid() != 0 and not mandatory("root")
