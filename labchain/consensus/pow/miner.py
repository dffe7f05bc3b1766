"""Proof-of-work mining: search nonces until a block header's hash is at or below its target.

Terminology
-----------
nonce
    The last 4 bytes of the 80-byte header. The miner tries nonce 0, 1, 2, ... and hashes the
    header each time; when all 2**32 values fail it moves the timestamp one second forward and
    starts again (Bitcoin miners change the coinbase "extra nonce" instead).
block template
    The block being mined: the chain tip as parent, a coinbase paying the reward plus fees to
    the miner, and the mempool's best transactions (``Mempool.block_template``).
hash rate
    Header hashes tried per second. ``Miner.last_hashrate`` is the rate of the last search.
midstate
    SHA-256 works on 64-byte chunks. The first 64 bytes of the header never change while the
    nonce varies, so the state after them is computed once and copied for every nonce
    (``hashlib``'s ``copy()``): per attempt, two SHA-256 compressions instead of three.
    SM3 has the same 64-byte block structure, so an sm2-sm3 chain is mined the same way with
    ``hashlib.new("sm3")`` (:data:`HASHLIB_DIGESTS`); the header hash is always the chain
    suite's (``params.crypto``).

How the search is made fast in pure Python
------------------------------------------
The 76 bytes before the nonce, plus the nonce's first two bytes, are hashed once per 65,536
attempts; each attempt copies that state, feeds it the nonce's last two bytes (looked up in a
table built once, cheaper than ``struct.pack``), finishes SHA-256, hashes the digest again,
and compares the 32-byte result with the target as bytes (big-endian bytes compare like the
numbers they encode). So nonces are not tried in increasing order: see :func:`nonce_at`. ``workers > 1`` splits the nonce range into one slice per
process: ``hashlib`` holds the GIL for short inputs, so threads would not help.

Simplifications versus real miners
----------------------------------
* No extra nonce in the coinbase: the timestamp moves instead when the nonces run out.
* Worker processes are started for each search (a few milliseconds with ``fork``) rather
  than kept in a pool; fine for blocks that take a second or more.
* Real miners use ASICs that compute ~10**14 hashes per second; see ``bench/bench_mining.py``
  for what a laptop core does here and how that compares to OpenSSL's C code.
"""
from __future__ import annotations

import hashlib
import multiprocessing as mp
import queue
import struct
import sys
import threading
import time
from typing import Any, Callable, Protocol

from labchain.block import Block, BlockHeader
from labchain.crypto import Address
from labchain.core.params import Params

NONCE_SPACE = 1 << 32
#: How many nonces a search tries between two looks at its stop flag (~20-60 ms of work).
CHUNK = 1 << 16
#: Process start method for ``workers > 1``. "fork" starts in milliseconds and, unlike
#: "spawn"/"forkserver", does not re-import the caller's ``__main__`` (a script without an
#: ``if __name__ == "__main__"`` guard would otherwise start mining again in every worker).
#: A forked worker only runs ``search_nonces`` and reports through its queue, so locks other
#: threads of the parent held at fork time are never touched. "spawn" where fork is missing.
START_METHOD = "fork" if sys.platform.startswith("linux") else "spawn"
#: Seconds the other workers get to report once a nonce is found or the search is stopped; a
#: worker still silent then is terminated, so a stuck child can never hang the miner (or the node).
STRAGGLER_SECONDS = 5.0

#: Every 2-byte little-endian value, built once: the hot loop looks nonce bytes up here
#: instead of calling ``struct.pack`` (about 15% faster, see bench/bench_mining.py).
_TWO_BYTES = tuple(struct.pack("<H", i) for i in range(1 << 16))


def nonce_at(index: int) -> int:
    """The nonce tried at position ``index`` of the search (and, being its own inverse, the
    position of a nonce): the two 16-bit halves swapped.

    The nonce's first two header bytes (its low half) change only every 65,536 attempts, so
    they go into the midstate, and the loop walks the last two bytes through ``_TWO_BYTES``.
    """
    return ((index & 0xFFFF) << 16) | (index >> 16)


#: suite name -> the ``hashlib`` name of its digest, for the midstate search. SM3 is a
#: Merkle-Damgard hash on 64-byte blocks like SHA-256, so the same midstate trick applies.
HASHLIB_DIGESTS = {"p256-sha256": "sha256", "sm2-sm3": "sm3"}


def _digest_constructor(name: str) -> Callable[[bytes], Any]:
    if name == "sha256":
        return hashlib.sha256  # the named constructor: faster than hashlib.new per attempt
    return lambda data=b"": hashlib.new(name, data)


def search_nonces(prefix: bytes, target: bytes, start: int, end: int,
                  should_stop: Callable[[], bool] = lambda: False,
                  digest: str = "sha256") -> tuple[int | None, int]:
    """Try search positions ``start .. end-1`` (nonces ``nonce_at(i)``) after the 76-byte
    header ``prefix``; ``target`` is the target as 32 big-endian bytes; ``digest`` is the
    ``hashlib`` name of the chain suite's hash (the id hash is that digest twice).

    Returns ``(nonce, hashes_tried)``; ``nonce`` is None when the range ran out or
    ``should_stop()`` returned True (it is asked every :data:`CHUNK` = 65,536 positions).
    """
    sha256, endings = _digest_constructor(digest), _TWO_BYTES
    tried = 0
    for block_start in range(start & ~0xFFFF, end, CHUNK):
        if should_stop():
            return None, tried
        low, high = max(start, block_start) & 0xFFFF, min(end - block_start, CHUNK)
        copy = sha256(prefix + endings[block_start >> 16]).copy  # midstate: 78 fixed bytes
        for ending in endings[low:high]:
            h = copy()
            h.update(ending)
            if sha256(h.digest()).digest() <= target:
                position = block_start + endings.index(ending, low)  # found: where it was
                return nonce_at(position), tried + position - max(start, block_start) + 1
        tried += high - low
    return None, tried


def search_nonces_with(hash256: Callable[[bytes], bytes], prefix: bytes, target: bytes, start: int,
                       end: int, should_stop: Callable[[], bool] = lambda: False) -> tuple[int | None, int]:
    """:func:`search_nonces` for a suite without a ``hashlib`` digest (experiments): the
    whole header through ``hash256`` per attempt, no midstate."""
    tried = 0
    for block_start in range(start & ~0xFFFF, end, CHUNK):
        if should_stop():
            return None, tried
        low, high = max(start, block_start) & 0xFFFF, min(end - block_start, CHUNK)
        head = prefix + _TWO_BYTES[block_start >> 16]
        for position in range(block_start + low, block_start + high):
            if hash256(head + _TWO_BYTES[position & 0xFFFF]) <= target:
                return nonce_at(position), tried + position - max(start, block_start) + 1
        tried += high - low
    return None, tried


def _worker(prefix: bytes, target: bytes, start: int, end: int,
            found: Any, results: Any, digest: str = "sha256") -> None:
    """Body of one mining process: search a slice, report ``(nonce | None, tried)``."""
    nonce, tried = search_nonces(prefix, target, start, end, found.is_set, digest)
    if nonce is not None:
        found.set()  # tell the other workers to stop
    results.put((nonce, tried))


class MempoolLike(Protocol):
    def block_template(self, reward_address: Address, timestamp: int) -> Block: ...


class Miner:
    """Finds proof of work for headers and blocks of one network.

    ``solve`` can be stopped from another thread by setting the ``threading.Event`` passed as
    ``stop``; it then returns None within about one :data:`CHUNK` of work.
    """

    def __init__(self, params: Params) -> None:
        self.params = params
        self.suite = params.crypto  # the header hash that must meet the target is this suite's
        self.digest = HASHLIB_DIGESTS.get(self.suite.name)  # None: search_nonces_with(suite)
        self.last_hashrate = 0.0   # hashes per second of the last search
        self.last_hashes = 0       # hashes tried by the last search
        self.last_seconds = 0.0

    def solve(self, header: BlockHeader, workers: int = 1,
              stop: threading.Event | None = None) -> BlockHeader | None:
        """The first header, in search order from ``header.nonce`` on, whose hash meets its target.

        The search order is :func:`nonce_at` (0, 65536, 131072, ..., then 1, 65537, ...). When
        it runs out the timestamp goes up by one second and the search restarts at nonce 0.
        Returns None if ``stop`` is set first.
        """
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        stop = stop or threading.Event()
        target = header.target.to_bytes(32, "big")
        timestamp, first = header.timestamp, nonce_at(header.nonce)
        self.last_hashes, began = 0, time.perf_counter()
        try:
            while not stop.is_set():
                prefix = header.with_nonce(0, timestamp).to_bytes()[:76]
                if self.digest is None:
                    nonce, tried = search_nonces_with(self.suite.hash256, prefix, target, first,
                                                      NONCE_SPACE, stop.is_set)
                elif workers == 1:
                    nonce, tried = search_nonces(prefix, target, first, NONCE_SPACE, stop.is_set, self.digest)
                else:
                    nonce, tried = self._search_in_processes(prefix, target, first, workers, stop)
                self.last_hashes += tried
                if nonce is not None:
                    return header.with_nonce(nonce, timestamp)
                timestamp, first = timestamp + 1, 0
            return None
        finally:
            self.last_seconds = time.perf_counter() - began
            self.last_hashrate = self.last_hashes / self.last_seconds if self.last_seconds else 0.0

    def _search_in_processes(self, prefix: bytes, target: bytes, first: int, workers: int,
                             stop: threading.Event) -> tuple[int | None, int]:
        """Split ``first .. 2**32`` among ``workers`` processes; the first success stops all."""
        ctx = mp.get_context(START_METHOD)
        found, results = ctx.Event(), ctx.Queue()
        bounds = [first + (NONCE_SPACE - first) * i // workers for i in range(workers + 1)]
        procs = [
            ctx.Process(target=_worker, args=(prefix, target, bounds[i], bounds[i + 1], found, results,
                                              self.digest),
                        daemon=True, name=f"labchain-miner-{i}")
            for i in range(workers)
        ]
        for p in procs:
            p.start()
        best, tried, reports = None, 0, 0
        settle_by = None  # once the search is over, stragglers get STRAGGLER_SECONDS to report
        try:
            while reports < workers:
                if stop.is_set():
                    found.set()
                if found.is_set() and settle_by is None:
                    settle_by = time.monotonic() + STRAGGLER_SECONDS
                try:
                    nonce, n = results.get(timeout=0.05)
                except queue.Empty:
                    if not any(p.is_alive() for p in procs) and results.empty():
                        raise RuntimeError("a mining process died without reporting") from None
                    if settle_by is not None and time.monotonic() > settle_by:
                        break  # a worker that cannot report (e.g. stuck after fork) is terminated below
                    continue
                reports += 1
                tried += n
                if nonce is not None and (best is None or nonce_at(nonce) < nonce_at(best)):
                    best = nonce
            return best, tried
        finally:
            found.set()
            for p in procs:
                p.join(timeout=5)
                if p.is_alive():
                    p.terminate()
                    p.join()
            results.close()
            results.join_thread()

    def mine(self, mempool: MempoolLike, address: Address | str, workers: int = 1,
             timestamp: int | None = None, stop: threading.Event | None = None) -> Block | None:
        """Build a block template on the tip of ``mempool``'s chain paying ``address``; solve it.

        The template takes that chain's tip, target and time. The caller adds the returned
        block to the chain (``chain.add_block``). ``timestamp`` defaults to the chain's clock;
        the template raises it past the median time past. Returns None if ``stop`` is set
        before a solution is found.
        """
        template = mempool.block_template(address, timestamp)  # built on mempool's chain tip
        header = self.solve(template.header, workers=workers, stop=stop)
        return None if header is None else Block(header, template.transactions)
