"""Run the explorer: in this process (:func:`serve`, the CLI) or on a background thread
(:class:`Background`, tests and benchmarks)."""
from __future__ import annotations

import asyncio
import socket
import sys
import threading
from typing import Any

from labchain.explorer.web import Explorer


def _listen(app, host: str, port: int):
    from tornado.httpserver import HTTPServer
    from tornado.netutil import bind_sockets

    sockets = bind_sockets(port, host, family=socket.AF_INET)
    server = HTTPServer(app, xheaders=False)
    server.add_sockets(sockets)
    return server, sockets[0].getsockname()[1]


def serve(networks: dict, console: Any = None, host: str = "127.0.0.1", port: int = 8088) -> None:
    explorer = Explorer(networks, console)

    async def main() -> None:
        _, bound = _listen(explorer.app(), host, port)
        print(f"LabChain explorer on http://{host}:{bound}/", flush=True)
        if console is not None:
            print(f"class console: http://{host}:{bound}/class?token={console.token}", flush=True)
        await asyncio.Event().wait()

    try:
        asyncio.run(main())
    finally:
        explorer.close()
        sys.stdout.flush()


class Background:
    """The explorer on a daemon thread with its own event loop: ``with Background(nets) as b:
    b.url``."""

    def __init__(self, networks: dict, console: Any = None, poll_ms: int = 1000, host: str = "127.0.0.1") -> None:
        self.explorer = Explorer(networks, console, poll_ms=poll_ms)
        self.host = host
        self.port = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name="labchain-explorer", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)

        async def start() -> None:
            self._server, self.port = _listen(self.explorer.app(), self.host, 0)

        loop.run_until_complete(start())
        self._ready.set()
        loop.run_forever()
        self._server.stop()
        loop.close()

    def __enter__(self) -> Background:
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the explorer did not start within 30 s")
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self.explorer.close()
