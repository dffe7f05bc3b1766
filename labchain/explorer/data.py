"""What the explorer knows about a network, read from its nodes' JSON-RPC only.

Terminology
-----------
network
    The nodes one explorer view reads (a local or Docker testnet, or ``--rpc`` URLs), by name.
reference node
    The reachable node whose tip has the most chain work (ties: the lowest index). Its best
    chain is "the main chain" on every page; other nodes' tips that are not on it are
    *side branches* (Bitcoin Core's ``getchaintips`` status ``valid-fork``).
observed tip
    A tip some node reported to the explorer at some poll. The node RPC has no ``getchaintips``,
    so the fork tree is made of the tips the explorer saw (kept in this process, bounded), each
    walked back block by block to where it joins the main chain. A branch that no polled node
    ever had as its tip is invisible; a branch is *resolved* once no node has it as tip any more.

Everything is read-only: only ``getblockcount``-style reading methods are called (see
``READ_METHODS``); the node keeps no state for the explorer. Blocks are cached by hash (they
never change), bounded by ``BLOCK_CACHE``.
"""
from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from labchain.core.errors import LabchainError
from labchain.crypto import Address
from labchain.core import errors
from labchain.node.rpc import RpcClient, RpcConnectionError, RpcError

#: the only methods the explorer calls: it never changes a node
READ_METHODS = frozenset({"getblockcount", "getbestblockhash", "getblock", "getblockchaininfo",
                          "gettransaction", "getmempool", "getbalance", "listunspent",
                          "getpeerinfo"})
RPC_TIMEOUT = 3.0          # seconds; a node slower than this shows as down for that poll
RECENT_BLOCKS = 12         # rows of the overview's block table
FORK_WINDOW = 10           # main-chain blocks drawn left of the newest fork point
MAX_BRANCH = 50            # blocks walked back from a side tip before giving up
MAIN_WALK = 256            # blocks walked back along the main chain before asking by height
MAX_TIPS = 64              # observed side tips remembered (oldest forgotten first)
BLOCK_CACHE = 4096         # blocks kept by hash
HISTORY_BLOCKS = 100       # blocks scanned for an address's history (Etherscan keeps an index)
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


class ExplorerError(LabchainError):
    """Something the explorer was asked cannot be shown."""


class NotFoundError(ExplorerError, LookupError):
    """No node knows the block, transaction or page asked for (HTTP 404)."""


class BadQueryError(ExplorerError, ValueError):
    """A search or URL part that is not a height, hash or address (HTTP 400)."""


class NetworkDownError(ExplorerError):
    """No node of the network answers its RPC."""


@dataclass
class NodeState:
    """One poll of one node: ``up`` False carries the error that made it down."""

    index: int
    name: str
    rpc: str
    up: bool
    error: str = ""
    height: int | None = None
    tip: str | None = None
    chainwork: int = 0
    mempool: int | None = None
    peers: list[dict] = field(default_factory=list)
    mining: str | None = None
    network: str | None = None
    place: str = ""          # "main" (the reference tip), "behind" (an older main block), "side"


class NodeSource:
    """One node's RPC, safe to call from several threads (one client per thread)."""

    def __init__(self, index: int, url: str, name: str | None = None, timeout: float = RPC_TIMEOUT) -> None:
        self.index, self.url, self.name = index, url, name or f"node{index}"
        self.timeout = timeout
        self._local = threading.local()

    def call(self, method: str, *args: Any) -> Any:
        if method not in READ_METHODS:
            raise ExplorerError(f"the explorer only reads; {method!r} is not one of its methods", method)
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = RpcClient(self.url, timeout=self.timeout, label=self.name)
        try:
            return client.call(method, *args)
        except (RpcConnectionError, OSError):
            client.close()
            self._local.client = None
            raise

    def poll(self) -> NodeState:
        try:
            info = self.call("getblockchaininfo")
            peers = self.call("getpeerinfo")
        except (RpcConnectionError, OSError, RpcError, ValueError) as exc:
            return NodeState(self.index, self.name, self.url, False, error=_short(exc))
        return NodeState(self.index, self.name, self.url, True, height=info["height"], tip=info["tip"],
                         chainwork=int(info["chainwork"], 16), mempool=info.get("mempool_size"),
                         peers=peers, mining=info.get("mining"), network=info.get("network"))


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 160 else text[:157] + "..."


@dataclass
class Snapshot:
    """Every node's state at one poll, and the reference node (None when all are down)."""

    nodes: list[NodeState]
    reference: NodeState | None
    taken: float
    main: dict[int, str] = field(default_factory=dict)   # height -> hash on the reference chain

    @property
    def up(self) -> list[NodeState]:
        return [n for n in self.nodes if n.up]


class Network:
    """The explorer's view of one network: polls, block cache, observed tips, lookups."""

    def __init__(self, name: str, sources: list[NodeSource]) -> None:
        if not sources:
            raise ExplorerError(f"network {name!r} has no nodes to read", name)
        self.name = name
        self.sources = sources
        self._blocks: OrderedDict[str, dict] = OrderedDict()
        self._tips: OrderedDict[str, set[int]] = OrderedDict()   # side tip -> nodes seen on it
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=min(8, len(sources)), thread_name_prefix=f"explorer-{name}")

    @classmethod
    def from_urls(cls, name: str, urls: list[str]) -> Network:
        return cls(name, [NodeSource(i, u) for i, u in enumerate(urls)])

    @classmethod
    def from_testnet(cls, name: str, testnet: Any) -> Network:
        """``testnet``: a :class:`labchain.testnet.Testnet` (only its nodes' RPC URLs are used)."""
        return cls(name, [NodeSource(n.index, n.rpc_url, n.name) for n in testnet.nodes])

    # -- polling ------------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        states = list(self._pool.map(lambda s: s.poll(), self.sources))
        up = [s for s in states if s.up]
        reference = max(up, key=lambda s: (s.chainwork, -s.index)) if up else None
        snap = Snapshot(states, reference, time.time())
        if reference is not None:
            for s in up:
                if s.tip == reference.tip:
                    s.place = "main"
                elif s.height <= reference.height and self._main_hash(s.height, snap) == s.tip:
                    s.place = "behind"   # still syncing along the main chain: not a fork
                else:
                    s.place = "side"
            with self._lock:
                for s in up:
                    if s.place == "side":
                        self._tips.setdefault(s.tip, set()).add(s.index)
                        self._tips.move_to_end(s.tip)
                while len(self._tips) > MAX_TIPS:
                    self._tips.popitem(last=False)
        return snap

    def _source(self, snap: Snapshot, index: int | None = None) -> NodeSource:
        if snap.reference is None:
            raise NetworkDownError(f"no node of network {self.name!r} answers its RPC", self.name)
        return self.sources[snap.reference.index if index is None else index]

    # -- blocks -------------------------------------------------------------------------------
    def block(self, key: str | int, snap: Snapshot | None = None, source: NodeSource | None = None) -> dict:
        """A block by hash or height (of the reference node's chain); NotFoundError if unknown."""
        snap = snap or self.snapshot()
        if isinstance(key, str):
            with self._lock:
                cached = self._blocks.get(key)
            if cached is not None:
                return self._with_main_flag(cached, snap)
        candidates = [source] if source else [self._source(snap)] + [
            self.sources[s.index] for s in snap.up if s.index != snap.reference.index]
        if isinstance(key, int):
            candidates = candidates[:1]  # a height means the main chain's block at that height
        for src in candidates:
            try:
                block = src.call("getblock", key)
            except RpcError:
                continue
            except (RpcConnectionError, OSError):
                continue
            self._remember(block)
            return self._with_main_flag(block, snap)
        what = f"height {key}" if isinstance(key, int) else f"hash {key}"
        raise NotFoundError(f"no node of network {self.name!r} knows a block with {what}", key)

    def _with_main_flag(self, block: dict, snap: Snapshot) -> dict:
        """The block with ``main`` (on the reference chain?) and ``tip_of`` (node names)."""
        out = dict(block)
        ref = snap.reference
        out["main"] = bool(ref and block["height"] <= ref.height and self._main_hash(block["height"], snap) == block["hash"])
        out["tip_of"] = [s.name for s in snap.up if s.tip == block["hash"]]
        if ref is not None:
            out["confirmations"] = ref.height - block["height"] + 1 if out["main"] else 0
        return out

    def _main_hash(self, height: int, snap: Snapshot) -> str | None:
        """Hash of the reference chain's block at ``height`` in this snapshot.

        Found by walking ``prev_hash`` back from the reference tip through the block cache (a
        block never changes, so once its blocks are cached a page costs no RPC call for them);
        at the first block not in the cache, or MAIN_WALK blocks down, it asks by height."""
        if snap.reference is None or not 0 <= height <= snap.reference.height:
            return None
        snap.main.setdefault(snap.reference.height, snap.reference.tip)
        if height in snap.main:
            return snap.main[height]
        known = min(h for h in snap.main if h > height)
        current = snap.main[known]
        while known > height and known - height <= MAIN_WALK:
            with self._lock:
                block = self._blocks.get(current)
            if block is None:
                break
            known, current = known - 1, block["header"]["prev_hash"]
            snap.main[known] = current
        if known == height:
            return current
        try:
            block = self._source(snap).call("getblock", height)
        except (RpcError, RpcConnectionError, OSError):
            return None
        self._remember(block)
        snap.main[height] = block["hash"]
        return block["hash"]

    def _main_block(self, height: int, snap: Snapshot) -> dict | None:
        block_hash = self._main_hash(height, snap)
        return self._from_any(block_hash, [self._source(snap)]) if block_hash else None

    def recent_blocks(self, snap: Snapshot, count: int = RECENT_BLOCKS) -> list[dict]:
        """The reference chain's newest ``count`` blocks, newest first (summaries)."""
        if snap.reference is None:
            return []
        out = []
        for height in range(snap.reference.height, max(-1, snap.reference.height - count), -1):
            block = self._main_block(height, snap)
            if block is None:
                break
            out.append(summary(block, [s.name for s in snap.up if s.tip == block["hash"]]))
        return out

    # -- fork tree ----------------------------------------------------------------------------
    def fork_tree(self, snap: Snapshot) -> dict:
        """The main chain's last blocks plus every observed side branch down to its fork point.

        ``{"main": [summaries oldest first], "branches": [{"tip", "blocks": [...oldest first],
        "fork_height", "nodes": [names on it now], "resolved": bool}]}``.
        """
        if snap.reference is None:
            return {"main": [], "branches": []}
        ref_src = self._source(snap)
        with self._lock:
            tips = list(self._tips.items())
        branches = []
        for tip, seen_on in reversed(tips):
            blocks, fork_height = self._walk_branch(tip, seen_on, snap, ref_src)
            if not blocks:
                continue
            on_it = [s.name for s in snap.up if s.tip == tip]
            branches.append({"tip": tip, "blocks": blocks, "fork_height": fork_height, "nodes": on_it,
                             "resolved": not on_it})
        low = min([b["fork_height"] for b in branches] + [snap.reference.height])
        start = max(0, min(low, snap.reference.height - FORK_WINDOW + 1))
        main = []
        for height in range(start, snap.reference.height + 1):
            block = self._main_block(height, snap)
            if block is None:
                break
            main.append(summary(block, [s.name for s in snap.up if s.tip == block["hash"]]))
        branches = [b for b in branches if b["fork_height"] >= start]
        return {"main": main, "branches": branches, "start": start}

    def _walk_branch(self, tip: str, seen_on: set[int], snap: Snapshot, ref_src: NodeSource):
        """Side blocks from the fork point up to ``tip`` (oldest first), and the fork height."""
        holders = [self.sources[i] for i in sorted(seen_on)] + [self.sources[s.index] for s in snap.up]
        blocks: list[dict] = []
        current = tip
        for _ in range(MAX_BRANCH):
            block = self._from_any(current, holders)
            if block is None:
                return [], 0
            if self._main_hash(block["height"], snap) == block["hash"]:
                blocks.reverse()
                return blocks, block["height"]
            blocks.append(summary(block, [s.name for s in snap.up if s.tip == block["hash"]]))
            current = block["header"]["prev_hash"]
        blocks.reverse()
        return blocks, blocks[0]["height"] - 1 if blocks else 0

    def _from_any(self, block_hash: str, holders: list[NodeSource]) -> dict | None:
        with self._lock:
            cached = self._blocks.get(block_hash)
        if cached is not None:
            return cached
        for src in holders:
            try:
                block = src.call("getblock", block_hash)
            except (RpcError, RpcConnectionError, OSError):
                continue
            self._remember(block)
            return block
        return None

    def _remember(self, block: dict) -> None:
        with self._lock:
            self._blocks[block["hash"]] = block
            while len(self._blocks) > BLOCK_CACHE:
                self._blocks.popitem(last=False)

    # -- transactions, addresses, mempool, peers -----------------------------------------------
    def transaction(self, txid: str, snap: Snapshot | None = None) -> dict:
        snap = snap or self.snapshot()
        self._source(snap)
        for state in [snap.reference] + [s for s in snap.up if s is not snap.reference]:
            try:
                return dict(self.sources[state.index].call("gettransaction", txid), seen_by=state.name)
            except (RpcError, RpcConnectionError, OSError):
                continue
        raise NotFoundError(f"no node of network {self.name!r} knows a transaction {txid}", txid)

    def mempool(self, snap: Snapshot) -> list[dict]:
        src = self._source(snap)
        return src.call("getmempool", True)

    def address(self, address: str, snap: Snapshot) -> dict:
        """Balance, unspent outputs and the history found in the last HISTORY_BLOCKS blocks."""
        src = self._source(snap)
        try:
            balance = src.call("getbalance", address)
            unspent = src.call("listunspent", address)
        except RpcError as exc:
            raise BadQueryError(f"{address[:60]!r} is not an address of this chain: {exc}", address) from None
        history = []
        received: dict[tuple[str, int], int] = {}
        top = snap.reference.height
        low = max(0, top - HISTORY_BLOCKS + 1)
        blocks = []
        for height in range(top, low - 1, -1):   # downwards: the cache walk follows prev_hash
            block = self._main_block(height, snap)
            if block is None:
                break
            blocks.append(block)
        blocks.reverse()
        txs = [(b["height"], tx) for b in blocks for tx in b["transactions"]]
        txs += [(None, tx) for tx in src.call("getmempool", True)]
        for height, tx in txs:
            gained = sum(o["amount"] for o in tx["outputs"] if o["address"] == address)
            spent = 0
            for inp in tx["inputs"]:
                key = (inp["prevout"]["txid"], inp["prevout"]["index"])
                if key in received:
                    spent += received.pop(key)
            for i, o in enumerate(tx["outputs"]):
                if o["address"] == address:
                    received[(tx["txid"], i)] = o["amount"]
            if gained or spent:
                history.append({"txid": tx["txid"], "height": height, "received": gained, "spent": spent})
        history.reverse()
        return {"address": address, "balance": balance, "unspent": unspent, "history": history,
                "scanned_from": low, "scanned_to": top}

    def peer_graph(self, snap: Snapshot) -> dict:
        """Nodes and the P2P links between them (by listen address), for the nodes page."""
        by_listen: dict[str, str] = {}
        for s in snap.up:
            for p in s.peers:
                if p.get("name") and p.get("listen"):
                    by_listen[p["listen"]] = p["name"]
        names = {s.name for s in snap.nodes}
        edges = set()
        for s in snap.up:
            for p in s.peers:
                other = p.get("name") or by_listen.get(p.get("listen") or "")
                if other and other != s.name:
                    edges.add(tuple(sorted((s.name, other))))
                    names.add(other)
        return {"nodes": sorted(names, key=_natural), "edges": sorted(edges)}

    def close(self) -> None:
        self._pool.shutdown(wait=False)


def _natural(name: str) -> tuple:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name))


def summary(block: dict, tip_of: list[str] | None = None) -> dict:
    """The fields a block row shows."""
    txs = block["transactions"]
    return {"hash": block["hash"], "height": block["height"], "time": block["header"]["timestamp"],
            "txs": len(txs), "size": block.get("size"), "prev": block["header"]["prev_hash"],
            "reward": sum(o["amount"] for o in txs[0]["outputs"]) if txs else 0,
            "tip_of": tip_of or []}


def classify(query: str) -> tuple[str, Any]:
    """What a search box text is: ``("height", int)``, ``("hash", hex)`` (block or transaction)
    or ``("address", str)``; BadQueryError naming what was expected otherwise."""
    text = (query or "").strip()
    if not text:
        raise BadQueryError("the search is empty; type a block height, a block or transaction hash, "
                            "or an address", query)
    if text.isdigit() and len(text) <= 12:
        return "height", int(text)
    if _HEX64.match(text):
        return "hash", text.lower()
    try:
        Address.from_string(text)
    except errors.AddressError:
        raise BadQueryError(f"{text[:70]!r} is not a block height, a 64-digit hash or an address",
                            query) from None
    return "address", text


def check_hash(text: str) -> str:
    if not _HEX64.match(text or ""):
        raise BadQueryError(f"{(text or '')[:70]!r} is not a hash: a hash is 64 hex digits", text)
    return text.lower()
