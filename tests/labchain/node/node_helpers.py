"""Small helpers shared by the node tests (imported as ``node_helpers``; never import from
``conftest``: in a whole-suite run that name can be another folder's conftest)."""
from __future__ import annotations

import socket

from labchain.block import genesis_block
from labchain.core.encoding import Record
from labchain.node.messages import (
    LENGTH,
    PROTOCOL_VERSION,
    Verack,
    Version,
    decode_message,
    encode_message,
)
from labchain.node.process import NodeProcess
from labchain.core.params import get_params
from polling import wait_until  # noqa: F401  (shared with the node tests)

REGTEST = get_params("regtest")


def peer_names(node: NodeProcess) -> set[str]:
    return {p["name"] for p in node.rpc.getpeerinfo() if p["handshake_done"]}


class RawPeer:
    """A hand-driven TCP peer: sends frames we choose and reads what the node answers."""

    def __init__(self, address: str, timeout: float = 10.0) -> None:
        host, port = address.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.sock.settimeout(timeout)

    def send(self, message: Record) -> None:
        self.sock.sendall(encode_message(message))

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _read_exact(self, n: int) -> bytes | None:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def read(self) -> Record | None:
        """The next message, or None once the node closed the connection."""
        try:
            header = self._read_exact(LENGTH.size)
            if header is None:
                return None
            payload = self._read_exact(LENGTH.unpack(header)[0])
        except ConnectionResetError:
            return None
        return None if payload is None else decode_message(payload)

    def expect(self, kind: type, limit: int = 100) -> Record:
        for _ in range(limit):
            message = self.read()
            if message is None:
                raise AssertionError(f"the node closed the connection while we waited for {kind.__name__}")
            if isinstance(message, kind):
                return message
        raise AssertionError(f"no {kind.__name__} among {limit} messages")

    def closed_by_node(self) -> bool:
        """Read until the node closes the connection (True) or the socket times out (False)."""
        try:
            while self.read() is not None:
                pass
            return True
        except socket.timeout:
            return False
        except OSError:
            return True

    def handshake(self, network: bytes = b"regtest", genesis: bytes | None = None,
                  name: bytes = b"raw-peer") -> Version:
        genesis = genesis_block(REGTEST).hash if genesis is None else genesis
        self.send(Version(PROTOCOL_VERSION, network, genesis, 0, 12345, 0, name))
        theirs = self.expect(Version)
        self.expect(Verack)
        self.send(Verack())
        return theirs

    def close(self) -> None:
        self.sock.close()
