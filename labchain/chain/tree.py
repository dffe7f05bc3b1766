"""The block tree: every known block, its height, cumulative work and status, in memory.

Terminology
-----------
block tree
    Each block points to its parent, so all blocks a node has seen form a tree rooted at
    genesis. The *main chain* is the path from genesis to the *tip*; the other paths are
    side branches (forks).
chainwork
    The sum of ``work_of(bits)`` over a block and all its ancestors: the expected number of
    hashes it took to build that chain. The tip is the valid block with the most chainwork,
    NOT the highest one: a shorter chain of harder blocks wins. Ties go to the block seen first.
fork point
    The last block two branches share. A reorganisation disconnects the main chain down to
    it and connects the other branch from it.
median time past (MTP)
    The median timestamp of a block and its ``median_time_span - 1`` (10) ancestors. A new
    block's time must be above its parent's MTP, so a miner cannot move time backwards much.
block locator
    Hashes of the main chain, dense near the tip then doubling steps back to genesis. A peer
    finds the last hash it shares with us and sends what comes after (initial block download).

Statuses: "valid" (connected at least once: transactions checked), "candidate" (stored on a
side branch, header checked, transactions not yet checked against a UTXO set), "invalid".

Simplification versus Bitcoin Core: the whole index is kept in memory and candidates are
found by scanning it (Bitcoin keeps a sorted set ``setBlockIndexCandidates``); fine for the
thousands of blocks a lab makes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from labchain.block import BlockHeader
from labchain.consensus.pow.difficulty import retarget, work_of
from labchain.core.params import Params


@dataclass(slots=True, eq=False)
class TreeEntry:
    """One block of the tree (Bitcoin: CBlockIndex)."""

    hash: bytes
    header: BlockHeader
    height: int
    chainwork: int
    seq: int                     # first-seen order: breaks ties in chainwork
    status: str                  # "valid" | "candidate" | "invalid"
    tx_count: int
    parent: TreeEntry | None = None
    reason: str = ""
    children: list[TreeEntry] = field(default_factory=list)

    @property
    def prev_hash(self) -> bytes:
        return self.header.prev_hash

    @property
    def timestamp(self) -> int:
        return self.header.timestamp

    def better_than(self, other: TreeEntry) -> bool:
        """More work wins; on equal work the block seen first stays."""
        return (self.chainwork, -self.seq) > (other.chainwork, -other.seq)


class BlockTree:
    """The in-memory index of all blocks, and the main chain as a list by height."""

    def __init__(self, params: Params) -> None:
        self.params = params
        self.entries: dict[bytes, TreeEntry] = {}
        self.main: list[TreeEntry] = []        # main[h] is the main-chain block at height h
        self.next_seq = 0

    # -- building -------------------------------------------------------------------------
    def new_entry(self, header: BlockHeader, parent: TreeEntry | None, tx_count: int,
                  status: str = "candidate") -> TreeEntry:
        height = 0 if parent is None else parent.height + 1
        work = work_of(header.bits) + (parent.chainwork if parent else 0)
        entry = TreeEntry(header.hash_in(self.params.crypto), header, height, work, self.next_seq, status, tx_count, parent)
        self.insert(entry)
        return entry

    def insert(self, entry: TreeEntry) -> None:
        self.entries[entry.hash] = entry
        if entry.parent is not None:
            entry.parent.children.append(entry)
        self.next_seq = max(self.next_seq, entry.seq + 1)

    def remove(self, entry: TreeEntry) -> None:
        del self.entries[entry.hash]
        if entry.parent is not None:
            entry.parent.children.remove(entry)

    def get(self, block_hash: bytes) -> TreeEntry | None:
        return self.entries.get(block_hash)

    # -- main chain -----------------------------------------------------------------------
    @property
    def tip(self) -> TreeEntry:
        return self.main[-1]

    def set_tip(self, entry: TreeEntry) -> None:
        """Rebuild the main-chain list so that it ends at ``entry``."""
        path = []
        node = entry
        while node is not None and not (node.height < len(self.main) and self.main[node.height] is node):
            path.append(node)
            node = node.parent
        del self.main[0 if node is None else node.height + 1:]
        self.main.extend(reversed(path))

    def in_main_chain(self, entry: TreeEntry) -> bool:
        return entry.height < len(self.main) and self.main[entry.height] is entry

    def ancestor(self, entry: TreeEntry, height: int) -> TreeEntry:
        if self.in_main_chain(entry):
            return self.main[height]
        while entry.height > height:
            entry = entry.parent
        return entry

    def fork_point(self, a: TreeEntry, b: TreeEntry) -> TreeEntry:
        while a is not b:
            if a.height >= b.height:
                a = a.parent
            else:
                b = b.parent
        return a

    def descendants(self, entry: TreeEntry) -> list[TreeEntry]:
        """``entry`` and every block built on it."""
        out, stack = [], [entry]
        while stack:
            node = stack.pop()
            out.append(node)
            stack.extend(node.children)
        return out

    def best_candidate(self) -> TreeEntry:
        """The non-invalid block with the most work (first seen on ties)."""
        best = None
        for entry in self.entries.values():
            if entry.status != "invalid" and (best is None or entry.better_than(best)):
                best = entry
        return best

    # -- consensus values that depend on ancestors ----------------------------------------
    def median_time_past(self, entry: TreeEntry) -> int:
        times = []
        node = entry
        while node is not None and len(times) < self.params.median_time_span:
            times.append(node.timestamp)
            node = node.parent
        times.sort()
        return times[len(times) // 2]

    def next_bits(self, parent: TreeEntry) -> int:
        """The ``bits`` a child of ``parent`` must carry (Bitcoin: GetNextWorkRequired).

        Every ``retarget_interval`` blocks the target is scaled by how long the last
        interval took. The window runs from the block ``retarget_interval`` blocks before the
        parent to the parent (``retarget_interval`` block gaps; for the first retarget,
        which has no block before genesis, from genesis).
        """
        p = self.params
        height = parent.height + 1
        if p.no_retargeting or height % p.retarget_interval != 0:
            return parent.header.bits
        first = self.ancestor(parent, max(0, parent.height - p.retarget_interval))
        actual = parent.timestamp - first.timestamp
        return retarget(parent.header.bits, actual, p.target_timespan, p.retarget_clamp, p.pow_limit_bits)

    # -- sync helpers ---------------------------------------------------------------------
    def locator(self) -> list[bytes]:
        """Main-chain hashes: the last 10 one by one, then doubling steps, then genesis."""
        hashes, height, step = [], len(self.main) - 1, 1
        while height > 0:
            hashes.append(self.main[height].hash)
            if len(hashes) >= 10:
                step *= 2
            height -= step
        hashes.append(self.main[0].hash)
        return hashes

    def hashes_after(self, locator: list[bytes], limit: int) -> list[bytes]:
        """Main-chain hashes after the first locator hash on our main chain (after genesis if none:
        a peer of the same network always has it)."""
        start = 1
        for block_hash in locator:
            entry = self.entries.get(block_hash)
            if entry is not None and self.in_main_chain(entry):
                start = entry.height + 1
                break
        return [e.hash for e in self.main[start:start + max(0, limit)]]
