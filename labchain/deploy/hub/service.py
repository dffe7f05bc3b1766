"""Start, inspect and stop the class server: configurable-http-proxy and JupyterHub, as two processes.

``hub_up`` checks everything it can before starting anything (the proxy program, the image,
the ports, the database), then starts the proxy, then the hub, and waits until each answers.
The proxy runs as its own process so that restarting the hub (``hub down --keep-proxy`` then
``hub up``) keeps every student's open notebook connected. Pid files and logs live in the state
folder; ``hub_status`` reads them and asks the hub's REST API who is running.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from labchain.deploy.hub.config import ADMIN_SERVICE, hub_connect_ip, read_secret
from labchain.deploy.hub.settings import HubError, HubSettings, read_state_settings
from labchain.testnet import docker as backend

CONFIG_FILE = Path(__file__).resolve().parent / "jupyterhub_config.py"
SECRETS = ("proxy-token", "admin-token", "cookie-secret", "lti-salt")  # lti-salt: hashed LTI ids

Log = Callable[[str], None]


@dataclass(slots=True)
class HubStatus:
    proxy_pid: int | None
    hub_pid: int | None
    url: str
    version: str | None = None
    #: student -> "ready" | "pending" | "stopped"
    servers: dict[str, str] = field(default_factory=dict)

    @property
    def running(self) -> bool:
        return self.proxy_pid is not None and self.hub_pid is not None and self.version is not None


# --- checks before anything starts --------------------------------------------------------

def _port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def preflight(settings: HubSettings) -> None:
    """Raise :class:`HubError` naming the first thing that would make ``hub up`` fail."""
    if shutil.which("configurable-http-proxy") is None:
        raise HubError("configurable-http-proxy is not installed; install it with "
                       "`npm install --global configurable-http-proxy` (see docs/hub.md)", None)
    try:
        import dockerspawner  # noqa: F401
        import jupyterhub  # noqa: F401
    except ImportError as exc:
        raise HubError(f"{exc.name} is not installed; install the class-server extra: "
                       "pip install 'labchain[hub]'", exc.name) from None
    client = backend.connect()
    try:
        client.images.get(settings.image)
    except Exception:  # noqa: BLE001 - docker.errors.ImageNotFound or an API error
        raise HubError(f"the lab image {settings.image} is not built on this Docker engine; run "
                       "`labchain images build` (or set `image:` in the hub settings)", settings.image) from None
    backend.ensure_labs_network(client, backend.DockerSettings())
    for key, host in (("public_port", settings.public_ip), ("proxy_api_port", "127.0.0.1"),
                      ("hub_port", hub_connect_ip())):
        port = getattr(settings, key)
        if not _port_free(host, port):
            raise HubError(f"port {port} on {host} ({key}) is already in use; stop what uses it "
                           f"or choose another {key} in the hub settings", port)
    if settings.db_url.startswith("postgresql"):
        _check_database(settings.db_url)


def _check_database(url: str) -> None:
    import sqlalchemy

    try:
        engine = sqlalchemy.create_engine(url)
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any driver error: say which database
        shown = url.split("@")[-1]
        raise HubError(f"cannot connect to the hub database {shown}: "
                       f"{str(exc).splitlines()[0]}", shown) from None


# --- state folder ---------------------------------------------------------------------------

def _prepare_state(settings: HubSettings) -> None:
    state = settings.state_dir
    (state / "secrets").mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(state, 0o700)
    for name in SECRETS:
        path = state / "secrets" / name
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32) + "\n")
    if settings.authenticator == "lti13":
        from labchain.deploy.hub.lti import ensure_tool_key

        ensure_tool_key(state)      # the tool's private key: grade passback signs with it
    tmp = settings.settings_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(settings.to_json(), indent=1), encoding="utf-8")
    os.replace(tmp, settings.settings_file)


def _pid(state_dir: Path, name: str) -> int | None:
    """The pid in ``<name>.pid`` if that process is alive, else None."""
    try:
        pid = int((state_dir / f"{name}.pid").read_text().strip())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return None
    return pid


def _spawn(argv: list[str], log_path: Path, env: dict[str, str]) -> subprocess.Popen:
    out = open(log_path, "ab")  # noqa: SIM115 - handed to the child
    try:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                env=env, start_new_session=True, cwd=log_path.parent)
    finally:
        out.close()


def _wait(what: str, ready: Callable[[], bool], proc: subprocess.Popen, log_path: Path,
          timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace").splitlines()[-15:]
            raise HubError(f"{what} exited with status {proc.returncode} while starting; the end of "
                           f"{log_path}:\n" + "\n".join(tail), proc.returncode)
        time.sleep(0.2)
    raise HubError(f"{what} did not answer within {timeout:.0f} s (see {log_path})", timeout)


def _http_ok(url: str, token: str | None = None) -> bool:
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=2):
            return True
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except OSError:
        return False


# --- up / status / down ---------------------------------------------------------------------

def hub_up(settings: HubSettings, log: Log = print, timeout: float = 60.0) -> HubStatus:
    """Start the proxy (unless it runs) and the hub; idempotent when both run."""
    state = settings.state_dir
    if _pid(state, "jupyterhub") and _pid(state, "proxy"):
        log(f"the class server in {state} is already running")
        return hub_status(state)
    proxy_running = _pid(state, "proxy") is not None
    if proxy_running:  # a hub restart: only the hub's port must be free
        if not _port_free(hub_connect_ip(), settings.hub_port):
            raise HubError(f"port {settings.hub_port} on {hub_connect_ip()} (hub_port) is already in use", None)
    else:
        preflight(settings)
    _prepare_state(settings)
    backend.ensure_firewall()
    allow_hub_api(settings.hub_port)
    env = dict(os.environ)
    if not proxy_running:
        token = read_secret(state, "proxy-token")
        argv = ["configurable-http-proxy", "--ip", settings.public_ip, "--port", str(settings.public_port),
                "--api-ip", "127.0.0.1", "--api-port", str(settings.proxy_api_port),
                "--default-target", f"http://{hub_connect_ip()}:{settings.hub_port}",
                "--error-target", f"http://{hub_connect_ip()}:{settings.hub_port}/hub/error"]
        log_path = state / "proxy.log"
        proc = _spawn(argv, log_path, dict(env, CONFIGPROXY_AUTH_TOKEN=token))
        (state / "proxy.pid").write_text(f"{proc.pid}\n")
        log(f"proxy started (pid {proc.pid}) on {settings.public_url}")
        _wait("configurable-http-proxy", lambda: _http_ok(
            f"http://127.0.0.1:{settings.proxy_api_port}/api/routes", token), proc, log_path, timeout)
    log_path = state / "jupyterhub.log"
    proc = _spawn([sys.executable, "-m", "jupyterhub", "-f", str(CONFIG_FILE)], log_path,
                  dict(env, LABCHAIN_HUB_SETTINGS=str(settings.settings_file)))
    log(f"hub started (pid {proc.pid}); log: {log_path}")
    _wait("JupyterHub", lambda: _http_ok(f"{settings.public_url}/hub/api/"), proc, log_path, timeout)
    if _pid(state, "jupyterhub") is None:  # JupyterHub writes its pid file itself; make sure
        (state / "jupyterhub.pid").write_text(f"{proc.pid}\n")
    log(f"class server ready: {settings.public_url}")
    return hub_status(state)


def api(settings: HubSettings, method: str, path: str, body: Any = None, timeout: float = 10) -> Any:
    """Call the hub's REST API as the admin service; the decoded JSON answer."""
    token = read_secret(settings.state_dir, "admin-token")
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{settings.public_url}/hub/api{path}", data=data, method=method,
                                     headers={"Authorization": f"token {token}",
                                              "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            text = response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:300]
        raise HubError(f"hub API {method} {path} answered {exc.code}: {detail}", exc.code) from None
    except OSError as exc:
        raise HubError(f"the hub at {settings.public_url} does not answer: {exc}", None) from None
    return json.loads(text) if text else None


def hub_status(state_dir: Path) -> HubStatus:
    settings = read_state_settings(state_dir)
    status = HubStatus(_pid(settings.state_dir, "proxy"), _pid(settings.state_dir, "jupyterhub"),
                       settings.public_url)
    if status.hub_pid is None:
        return status
    try:
        status.version = api(settings, "GET", "/")["version"]
        for user in api(settings, "GET", "/users"):
            server = (user.get("servers") or {}).get("")
            state = "stopped" if not server else ("ready" if server.get("ready") else "pending")
            status.servers[user["name"]] = state
    except HubError:
        status.version = None
    return status


def _terminate(pid: int | None, timeout: float = 20.0) -> None:
    if pid is None:
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)


def hub_down(state_dir: Path, keep_proxy: bool = False, stop_servers: bool = False,
             log: Log = print) -> None:
    """Stop the hub (and the proxy unless ``keep_proxy``); lab servers keep running unless
    ``stop_servers`` (then their testnets stop too, keeping their volumes). Needs only the pid
    files, so a hub whose settings no longer load can still be stopped."""
    state_dir = Path(state_dir)
    if not (state_dir / "secrets").is_dir():
        raise HubError(f"no class server was started from {state_dir}; nothing to stop", str(state_dir))
    if stop_servers and _pid(state_dir, "jupyterhub"):
        settings = read_state_settings(state_dir)
        for user, state in hub_status(state_dir).servers.items():
            if state != "stopped":
                api(settings, "DELETE", f"/users/{user}/server", timeout=60)
                log(f"stopped the server of {user}")
    _terminate(_pid(state_dir, "jupyterhub"))
    log("hub stopped")
    if not keep_proxy:
        _terminate(_pid(state_dir, "proxy"))
        log("proxy stopped")


# --- host firewall: lab containers may reach the hub API and nothing else on the host --------

def allow_hub_api(port: int) -> bool:
    """Let new connections from the labs bridge reach the hub's port (placed above the drop
    rules of :data:`labchain.testnet.docker.FIREWALL_RULES`). False when not root."""
    iptables = shutil.which("iptables")
    if os.geteuid() != 0 or not iptables:
        return False
    rule = ["-i", backend.LABS_BRIDGE, "-p", "tcp", "--dport", str(port), "-j", "ACCEPT"]
    while subprocess.run([iptables, "-C", "INPUT", *rule], capture_output=True).returncode == 0:
        subprocess.run([iptables, "-D", "INPUT", *rule], check=True, capture_output=True)
    subprocess.run([iptables, "-I", "INPUT", "1", *rule], check=True, capture_output=True)
    return True
