"""Peer-to-peer connections: TCP, framing, handshake, liveness, limits and misbehaviour.

Terminology
-----------
peer
    One TCP connection to another node, *inbound* (it connected to us) or *outbound* (we
    connected to it). Each has an id (a counter, as in bitcoind's ``getpeerinfo``).
handshake
    Each side sends ``version`` (protocol, network name, genesis hash, height, name); each side
    checks the other's and answers ``verack``. A different network or genesis hash, or
    connecting to oneself, is refused with a ``reject`` message and a logged reason.
persistent peer
    An address given with ``--peer`` or ``addpeer``: while it is disconnected the node retries
    every :data:`RECONNECT_SECONDS` until ``disconnectpeer`` removes it.
misbehaviour score
    Points a peer collects by sending invalid data (Bitcoin: ``Misbehaving``). At
    :data:`BAN_SCORE` it is disconnected; the node keeps serving everyone else.

This module knows nothing about chains: it delivers decoded messages to a handler (the node,
``node.py``), which calls :meth:`Peer.send` and :meth:`Peer.misbehaving`.

Why asyncio rather than threads: a node is mostly waiting on sockets; one event loop serves
every peer and the RPC server from a single thread, so the chain (a SQLite connection, not
thread-safe) is only ever touched by that thread and needs no locks. The only CPU-heavy work,
solving proof of work, runs in a worker thread on a copy of a header (see ``node.py``).

Simplifications versus Bitcoin: no address gossip, no IP bans (every node of a testnet shares
127.0.0.1, so banning an address would ban the honest nodes too), no encryption (BIP 324).
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Protocol

from labchain.core.encoding import Record
from labchain.node.faults import NodeFaults, send_later
from labchain.node.messages import (
    LENGTH,
    Auth,
    AuthHello,
    PROTOCOL_VERSION,
    Ping,
    Pong,
    ProtocolError,
    Reject,
    UnknownMessageError,
    Verack,
    Version,
    check_frame_length,
    decode_message,
    encode_message,
)

log = logging.getLogger("labchain.p2p")

BAN_SCORE = 100               # Bitcoin: DISCOURAGEMENT_THRESHOLD
UNKNOWN_MESSAGE_SCORE = 10
MAX_PEERS = 16                # inbound + outbound (Bitcoin: 125 by default)
HANDSHAKE_SECONDS = 10.0
PING_SECONDS = 10.0           # Bitcoin: PING_INTERVAL (2 minutes)
PONG_TIMEOUT_SECONDS = 30.0   # Bitcoin: TIMEOUT_INTERVAL (20 minutes)
RECONNECT_SECONDS = 1.0
SEND_TIMEOUT_SECONDS = 10.0   # a peer that stops reading must not stall relay to the others


class MessageHandler(Protocol):
    """What the node provides to the P2P layer."""

    def version_message(self, peer: Peer) -> Version: ...
    def check_version(self, peer: Peer, version: Version) -> str | None: ...  # refusal reason
    async def peer_ready(self, peer: Peer) -> None: ...
    async def handle(self, peer: Peer, message: Record) -> None: ...
    def peer_closed(self, peer: Peer) -> None: ...


@dataclass(eq=False)
class Peer:
    id: int
    addr: str                 # remote host:port of this TCP connection
    inbound: bool
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    network: P2PNetwork
    target: str | None = None  # for outbound: the address we dialled
    version: Version | None = None
    got_verack: bool = False
    score: int = 0
    connected_at: float = field(default_factory=time.time)
    bytes_sent: int = 0
    bytes_received: int = 0
    ping_nonce: int | None = None
    ping_sent_at: float = 0.0
    last_pong: float = field(default_factory=time.monotonic)
    ping_ms: float | None = None
    closed: bool = False
    close_reason: str = ""
    # fields the node keeps per peer (sync progress, what the peer already knows)
    known: set = field(default_factory=set)
    requested: set = field(default_factory=set)   # block/tx hashes asked of this peer, not yet received
    offered: set = field(default_factory=set)     # hashes this peer announced (``inv``): it has them
    waiting_since: float = 0.0                    # monotonic time of its last delivery or first request
    sync_last: bytes | None = None
    asked_at_tip: bytes | None = None              # our tip when we last sent it getblocks
    # permissioned chains (labchain/node/identity.py): our nonce for it, what its auth proved
    auth_nonce: bytes | None = None
    identity: object = None                        # a labchain.identity.Identity once verified

    @property
    def ready(self) -> bool:
        return (self.version is not None and self.got_verack and not self.closed
                and (self.network.auth is None or self.identity is not None))

    @property
    def name(self) -> str:
        return self.version.name.decode("utf-8", "replace") if self.version else ""

    @property
    def listen_addr(self) -> str | None:
        if self.target:
            return self.target
        if self.version and self.version.listen_port:
            return f"{self.addr.rsplit(':', 1)[0]}:{self.version.listen_port}"
        return None

    def __str__(self) -> str:
        who = f" {self.name}" if self.name else ""
        return f"peer {self.id}{who} ({self.addr}, {'inbound' if self.inbound else 'outbound'})"

    async def send(self, message: Record) -> None:
        if self.closed:
            return
        if self.network.faults.active:            # injected link faults (labchain/node/faults.py)
            hold = self.network.faults.outgoing(self, message)
            if hold is None:
                return
            if hold > 0:
                self.network._spawn(send_later(self, hold, lambda: self._write(message)))
                return
        await self._write(message)

    async def _write(self, message: Record) -> None:
        frame = encode_message(message)
        self.bytes_sent += len(frame)
        if self.network.metrics is not None:
            self.network.metrics.p2p("out", message.COMMAND, len(frame))
        try:
            self.writer.write(frame)
            await asyncio.wait_for(self.writer.drain(), SEND_TIMEOUT_SECONDS)
        except asyncio.TimeoutError:
            self.close(f"peer did not read for {SEND_TIMEOUT_SECONDS:.0f} seconds")
        except (ConnectionError, OSError) as exc:
            self.close(f"send failed: {exc}")

    def misbehaving(self, points: int, reason: str) -> None:
        """Add ``points`` to this peer's score; disconnect it at :data:`BAN_SCORE`."""
        if points <= 0 or self.closed:
            return
        self.score += points
        log.warning("%s misbehaving (+%d, score %d): %s", self, points, self.score, reason)
        if self.score >= BAN_SCORE:
            self.close(f"misbehaviour score {self.score} reached {BAN_SCORE}: {reason}")

    def close(self, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        self.close_reason = reason
        log.info("disconnecting %s: %s", self, reason)
        try:
            self.writer.close()
        except Exception:  # noqa: BLE001 - already broken transports are fine to drop
            pass

    def info(self) -> dict:
        """One entry of ``getpeerinfo``."""
        return {
            "id": self.id,
            "addr": self.addr,
            "listen": self.listen_addr,
            "name": self.name,
            "inbound": self.inbound,
            "handshake_done": self.ready,
            "network": self.version.network.decode("utf-8", "replace") if self.version else None,
            "start_height": self.version.height if self.version else None,
            "misbehaviour_score": self.score,
            "bytes_sent": self.bytes_sent,
            "bytes_received": self.bytes_received,
            "ping_ms": None if self.ping_ms is None else round(self.ping_ms, 3),
            "connected_seconds": int(time.time() - self.connected_at),
            **(self.network.auth.peer_fields(self) if self.network.auth is not None else {}),
        }


class P2PNetwork:
    """The listening socket, every peer connection, and the reconnect loop."""

    metrics = None   # a labchain.node.metrics.NodeMetrics, set by the node: bytes per command
    auth = None      # a labchain.node.identity.LinkAuth on permissioned chains (None: public)

    def __init__(self, handler: MessageHandler, host: str = "127.0.0.1", port: int = 0,
                 max_peers: int = MAX_PEERS) -> None:
        self.handler = handler
        self.host, self.port = host, port
        self.max_peers = max_peers
        self.peers: dict[int, Peer] = {}
        self.persistent: set[str] = set()
        self.nonce = random.getrandbits(64)
        self._ids = itertools.count(1)
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task] = set()
        self._dialing: set[str] = set()
        self.faults = NodeFaults()   # setfault/clearfaults over RPC; in memory only

    # -- life cycle --------------------------------------------------------------------------
    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._spawn(self._maintenance())
        log.info("P2P listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self._server:
            self._server.close()
        for peer in list(self.peers.values()):
            peer.close("node is stopping")
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- peers -------------------------------------------------------------------------------
    def ready_peers(self) -> list[Peer]:
        return [p for p in self.peers.values() if p.ready]

    def add_peer(self, address: str) -> None:
        """Remember ``address`` as persistent and dial it now (``--peer``, ``addpeer``)."""
        self.persistent.add(address)
        if not self._connected_to(address):
            self._spawn(self._dial(address))

    def disconnect(self, peer: Peer, reason: str) -> None:
        """Close a connection and stop redialling its address (``disconnectpeer``)."""
        for addr in (peer.target, peer.listen_addr, peer.addr):
            self.persistent.discard(addr)
        peer.close(reason)

    def _connected_to(self, address: str) -> bool:
        return address in self._dialing or any(
            not p.closed and address in (p.target, p.listen_addr) for p in self.peers.values()
        )

    async def _maintenance(self) -> None:
        """Redial persistent peers and ping everyone, once a second."""
        while True:
            await asyncio.sleep(RECONNECT_SECONDS)
            for address in list(self.persistent):
                if not self._connected_to(address):
                    self._spawn(self._dial(address))
            now = time.monotonic()
            for peer in self.ready_peers():
                if now - peer.last_pong > PONG_TIMEOUT_SECONDS:
                    peer.close(f"no pong for {PONG_TIMEOUT_SECONDS:.0f} seconds")
                elif peer.ping_nonce is None and now - peer.ping_sent_at > PING_SECONDS:
                    peer.ping_nonce = random.getrandbits(64)
                    peer.ping_sent_at = now
                    self._spawn(peer.send(Ping(peer.ping_nonce)))

    async def _dial(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        self._dialing.add(address)
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, int(port)), HANDSHAKE_SECONDS)
        except (OSError, asyncio.TimeoutError, ValueError) as exc:
            log.debug("could not connect to %s: %s", address, exc)
            return
        finally:
            self._dialing.discard(address)
        await self._run_peer(reader, writer, inbound=False, target=address)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len([p for p in self.peers.values() if not p.closed]) >= self.max_peers:
            log.info("refusing inbound connection from %s: peer limit %d reached",
                     _peername(writer), self.max_peers)
            writer.write(encode_message(Reject(b"peer limit reached")))
            writer.close()
            return
        await self._run_peer(reader, writer, inbound=True)

    async def _run_peer(self, reader, writer, inbound: bool, target: str | None = None) -> None:
        peer = Peer(next(self._ids), _peername(writer), inbound, reader, writer, self, target)
        self.peers[peer.id] = peer
        log.info("connected %s", peer)
        try:
            await peer.send(self.handler.version_message(peer))
            if self.auth is not None:
                await self.auth.hello(peer)
            await asyncio.wait_for(self._handshake(peer), HANDSHAKE_SECONDS)
            if peer.closed:
                return
            log.info("handshake done with %s (height %d)", peer, peer.version.height)
            await self.handler.peer_ready(peer)
            while not peer.closed:
                message = await self._read(peer)
                if message is None:
                    break
                await self._dispatch(peer, message)
        except asyncio.TimeoutError:
            peer.close("handshake timed out")
        except (ConnectionError, OSError, asyncio.IncompleteReadError) as exc:
            peer.close(f"connection lost: {exc or type(exc).__name__}")
        except asyncio.CancelledError:  # the node is stopping: end this connection quietly
            peer.close("node is stopping")
        except Exception as exc:  # a bug in a handler must not take the node down
            log.exception("internal error while serving %s", peer)
            peer.close(f"internal error: {exc}")
        finally:
            peer.close(peer.close_reason or "connection closed")
            self.peers.pop(peer.id, None)
            self.handler.peer_closed(peer)

    async def _handshake(self, peer: Peer) -> None:
        while not peer.ready and not peer.closed:
            message = await self._read(peer)
            if message is None:
                return
            if isinstance(message, Version):
                if peer.version is not None:
                    peer.misbehaving(10, "sent version twice")
                    continue
                reason = self._check_version(peer, message)
                if reason:
                    log.warning("refusing %s: %s", peer, reason)
                    await peer.send(Reject(reason.encode()[:256]))
                    peer.close(reason)
                    return
                peer.version = message
                await peer.send(Verack())
            elif isinstance(message, Verack):
                peer.got_verack = True
            elif isinstance(message, Reject):
                peer.close(f"peer refused us: {message.reason.decode('utf-8', 'replace')}")
            elif isinstance(message, (AuthHello, Auth)) and self.auth is not None:
                await self.auth.on_message(peer, message)
            else:
                peer.misbehaving(10, f"sent {type(message).COMMAND.decode()} before the handshake")

    def _check_version(self, peer: Peer, version: Version) -> str | None:
        if version.nonce == self.nonce:
            return "connected to myself"
        if version.protocol != PROTOCOL_VERSION:
            return f"protocol version {version.protocol}, this node speaks {PROTOCOL_VERSION}"
        return self.handler.check_version(peer, version)

    async def _read(self, peer: Peer) -> Record | None:
        """The next message from ``peer``, or None once the connection is closed."""
        try:
            header = await peer.reader.readexactly(LENGTH.size)
            length = check_frame_length(header)
            payload = await peer.reader.readexactly(length)
        except asyncio.IncompleteReadError:
            peer.close("peer closed the connection")
            return None
        except ProtocolError as exc:  # oversized: we cannot resynchronise, drop at once
            peer.misbehaving(BAN_SCORE, str(exc))
            return None
        peer.bytes_received += LENGTH.size + length
        try:
            message = decode_message(payload)
            if self.metrics is not None:
                self.metrics.p2p("in", message.COMMAND, LENGTH.size + length)
            return message
        except UnknownMessageError as exc:  # maybe a newer peer: tolerate a few
            peer.misbehaving(UNKNOWN_MESSAGE_SCORE, str(exc))
            return None if peer.closed else await self._read(peer)
        except ProtocolError as exc:
            peer.misbehaving(BAN_SCORE, str(exc))
            return None

    async def _dispatch(self, peer: Peer, message: Record) -> None:
        if isinstance(message, Ping):
            await peer.send(Pong(message.nonce))
        elif isinstance(message, Pong):
            if message.nonce == peer.ping_nonce:
                peer.ping_ms = (time.monotonic() - peer.ping_sent_at) * 1000
                peer.ping_nonce = None
            peer.last_pong = time.monotonic()
        elif isinstance(message, (Version, Verack, AuthHello, Auth)):
            peer.misbehaving(10, f"sent {type(message).COMMAND.decode()} after the handshake")
        elif isinstance(message, Reject):
            log.info("%s says: %s", peer, message.reason.decode("utf-8", "replace"))
        elif not self.faults.active or self.faults.incoming(peer, message):
            await self.handler.handle(peer, message)


def _peername(writer: asyncio.StreamWriter) -> str:
    name = writer.get_extra_info("peername")
    return f"{name[0]}:{name[1]}" if name else "?"
