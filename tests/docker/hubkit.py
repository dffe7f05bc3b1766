"""Helpers for the class-server tests: log in like a browser, spawn, run code in a kernel."""
from __future__ import annotations

import asyncio
import json
import time
import uuid

import requests

from labchain.deploy.hub.service import api


def login(base: str, user: str, password: str) -> requests.Session:
    """A session logged in through the hub's login form (xsrf cookie and all)."""
    session = requests.Session()
    session.get(f"{base}/hub/login", timeout=10)
    response = session.post(f"{base}/hub/login", allow_redirects=False, timeout=30,
                            data={"username": user, "password": password,
                                  "_xsrf": session.cookies.get("_xsrf")})
    session.login_status = response.status_code  # 302 on success, 403 on a wrong password
    return session


def spawn(settings, user: str, timeout: float = 300.0) -> dict:
    """Make sure ``user``'s server runs (start it through the admin API, waiting out a stop the
    idle culler may have begun) and wait until ready; raise with the hub's model if a spawn
    fails."""
    deadline = time.monotonic() + timeout
    asked = False
    while time.monotonic() < deadline:
        model = api(settings, "GET", f"/users/{user}")
        server = (model.get("servers") or {}).get("")
        pending = model.get("pending")
        if pending is None and server and server.get("ready"):
            return server
        if pending is None and not server:
            if asked:
                raise RuntimeError(f"the server of {user} did not start: {model}")
            api(settings, "POST", f"/users/{user}/server", timeout=timeout)
            asked = True
        time.sleep(1)
    raise TimeoutError(f"the server of {user} was not ready within {timeout} s")


def user_token(settings, user: str) -> str:
    return api(settings, "POST", f"/users/{user}/tokens",
               {"scopes": [f"access:servers!user={user}"], "expires_in": 900,
                "note": "labchain hub test"})["token"]


def run_in_kernel(base: str, user: str, token: str, code: str, timeout: float = 120.0) -> str:
    """Start a kernel in ``user``'s lab server (through the proxy), run ``code``, return its
    stdout; raise AssertionError with the traceback if the cell fails."""
    headers = {"Authorization": f"token {token}"}
    kernel = requests.post(f"{base}/user/{user}/api/kernels", headers=headers, json={}, timeout=60)
    kernel.raise_for_status()
    kid = kernel.json()["id"]
    try:
        ws_url = f"{base.replace('http', 'ws', 1)}/user/{user}/api/kernels/{kid}/channels"
        run = lambda: asyncio.run(asyncio.wait_for(_execute(ws_url, headers, code), timeout))  # noqa: E731
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return run()
        # a loop already runs in this thread (Playwright's sync API keeps one): use another thread
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(run).result()
    finally:
        requests.delete(f"{base}/user/{user}/api/kernels/{kid}", headers=headers, timeout=30)


async def _execute(ws_url: str, headers: dict, code: str) -> str:
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    conn = await websocket_connect(HTTPRequest(ws_url, headers=headers, connect_timeout=90,
                                               request_timeout=90))  # loaded hosts are slow
    msg_id = uuid.uuid4().hex
    await conn.write_message(json.dumps({
        "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "test",
                   "session": uuid.uuid4().hex, "version": "5.3", "date": ""},
        "parent_header": {}, "metadata": {}, "channel": "shell",
        "content": {"code": code, "silent": False, "store_history": False,
                    "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}}))
    out: list[str] = []
    try:
        while True:
            raw = await conn.read_message()
            if raw is None:
                raise AssertionError("the kernel's websocket closed before the cell finished")
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = msg["msg_type"]
            if kind == "stream":
                out.append(msg["content"]["text"])
            elif kind == "error":
                raise AssertionError("\n".join(msg["content"]["traceback"]))
            elif kind == "status" and msg["content"]["execution_state"] == "idle":
                return "".join(out)
    finally:
        conn.close()


class local_hub:
    """A hub with local logins for ``students`` (one password), started on the given ports and
    stopped (servers too) on exit: ``with local_hub(state, image, students, pw, 18400) as s``."""

    def __init__(self, state_dir, image: str, students: list[str], password: str, port: int, **extra):
        from labchain.deploy.hub import HubSettings

        self.settings = HubSettings(state_dir=state_dir, public_port=port, proxy_api_port=port + 1,
                                    hub_port=port + 81, image=image, **extra)
        self.students, self.password = students, password

    def __enter__(self):
        from labchain.deploy.hub.auth import set_password
        from labchain.deploy.hub.service import hub_up

        for sid in self.students:
            set_password(self.settings.state_dir, sid, self.password)
        hub_up(self.settings, log=lambda line: None)
        return self.settings

    def __exit__(self, *exc):
        from labchain.deploy.hub.service import hub_down

        hub_down(self.settings.state_dir, stop_servers=True, log=lambda line: None)


def _run(module: str, name: str, args, timeout: float) -> str:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", module, *map(str, args)], capture_output=True,
                         text=True, timeout=timeout)
    assert out.returncode == 0, f"{name} {' '.join(map(str, args))}: {out.stdout}{out.stderr}"
    return out.stdout


def labchain(*args, timeout: float = 300) -> str:
    """Run ``labchain ARGS`` as a real process; its stdout (fails the test on a non-zero exit)."""
    return _run("labchain.cli", "labchain", args, timeout)


def grade(*args, timeout: float = 600) -> str:
    """Run ``labchain-grade ARGS`` as a real process; its stdout."""
    return _run("grading.cli", "labchain-grade", args, timeout)
