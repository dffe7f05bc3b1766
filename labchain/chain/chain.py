"""The chain: a tree of every valid block, the best branch as the main chain, and its UTXO set.

How a block is handled (Bitcoin: ProcessNewBlock -> AcceptBlock -> ActivateBestChain)
---------------------------------------------------------------------------------------
1. ``check_block_syntax``: proof of work, Merkle root, limits, coinbase position. A block
   that fails is rejected and not stored.
2. Unknown parent: the block is an *orphan*, held in memory (at most ``max_orphans``, oldest
   dropped first) until its parent arrives; then it is processed like a new block.
3. Known parent: the header is checked against it (target, median time past, clock) and the
   body against the height (coinbase height, lock heights). The block is then stored in the
   tree as a "candidate", whatever branch it is on.
4. If the block's branch now has more cumulative work than the tip (ties: first seen wins),
   the chain *reorganises*: it disconnects blocks down to the fork point, rolling the UTXO
   set back with each block's undo data, and connects the new branch block by block,
   checking every transaction against the UTXO set. If a block of the new branch breaks a
   rule, it and its descendants are marked invalid and the chain returns to the best valid
   branch; the rule broken is raised to the caller (``exc.update`` holds the resulting
   ``ChainUpdate``, which is usually empty).

Each connect and disconnect is one SQLite transaction (see ``store.py``), so a crash leaves
the chain on some valid block; reopening resumes the switch to the branch with most work.

Design choices
--------------
* The UTXO set is the main chain's only; side branches are stored but their transactions are
  checked only when the chain switches to them (as in Bitcoin).
* A block that was connected once ("valid") has its signatures verified once: reconnecting
  it after a reorg skips them (its hash commits to them; Bitcoin uses a signature cache).
* ``rewind_to(h)`` forgets every block that outranks ``h`` (descendants of ``h`` and branches
  with more work), so ``h`` is the tip again: the node's ``snapshot``/``revert``.
* Time comes from ``clock`` (injectable for ``setmocktime``); it is only used to refuse
  blocks from too far in the future.
* Every public method takes ``chain.lock`` (re-entrant), so a node's threads may share a chain;
  a caller that needs several calls to see one state (the mempool) holds it too.

Simplifications versus Bitcoin Core: no headers-first download or header-only entries, the
whole block index lives in memory, no checkpoints or assumevalid, no pruning.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Callable

from labchain.block import Block, BlockHeader
from labchain.crypto import Address
from labchain.core.errors import (
    BlockValidationError,
    ChainError,
    InvalidAncestorError,
    UnknownBlockError,
    UnknownTransactionError,
    ValidationError,
)
from labchain.core.params import Params, get_params
from labchain.ledger.utxo.tx import OutPoint, short

from labchain.chain.ledger_model import ledger_model
from labchain.chain.records import BlockInfo, ChainUpdate, Coin, TxInfo
from labchain.chain.store import Store
from labchain.chain.tree import BlockTree, TreeEntry
from labchain.chain.validation import check_header_context, describe_block

BLOCK_CACHE_SIZE = 32


class Chain:
    """A blockchain node's ledger: block tree, main chain, UTXO set, all stored in SQLite."""

    def __init__(self, params: Params | str, path=None, clock: Callable[[], float] = time.time, *,
                 max_orphans: int = 100, verify_workers: int = 1) -> None:
        self.params = get_params(params)
        self.suite = self.params.crypto  # every id, address and signature of this chain
        self.clock = clock
        self.max_orphans = max_orphans
        self.verify_workers = verify_workers
        self.lock = threading.RLock()
        self.ledger = ledger_model(self.params)  # chain config ledger.model (chain/ledger_model.py)
        genesis = self.ledger.genesis_block(self.params)
        self.genesis_hash = genesis.hash_in(self.suite)
        self.store = Store(path, self.params, genesis.hash_in(self.suite))
        self.tree = BlockTree(self.params)
        self.orphans: OrderedDict[bytes, Block] = OrderedDict()
        self._cache: OrderedDict[bytes, Block] = OrderedDict()
        self.store.load_tree(self.tree)
        self.ledger.open(self)
        tip = self.store.tip()
        if tip is None:
            self._connect_genesis(genesis)
        else:
            self.tree.set_tip(self.tree.get(tip))
            self.ledger.recover(self)  # the model's own state back to the stored tip
            self._recover()  # finish a reorganisation a crash interrupted

    def _connect_genesis(self, genesis: Block) -> None:
        entry = self.tree.get(genesis.hash_in(self.suite))
        if entry is None:
            entry = self.tree.new_entry(genesis.header, None, len(genesis.transactions))
            self.store.put_block(entry, genesis.to_bytes())
        self.ledger.connect_genesis(self, genesis)
        entry.status = "valid"
        self.tree.set_tip(entry)

    def close(self) -> None:
        with self.lock:
            self.ledger.close()
            self.store.close()

    def __enter__(self) -> Chain:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- the tip --------------------------------------------------------------------------
    # The tip moves block by block during a reorganisation (down to the fork point, then up
    # the new branch), all under ``self.lock``: reading it under the lock too means another
    # thread sees the tip before or after a change, never the fork point in between. A caller
    # that needs two of these to agree (hash and height) holds ``chain.lock`` around both.
    @property
    def tip_hash(self) -> bytes:
        with self.lock:
            return self.tree.tip.hash

    @property
    def height(self) -> int:
        with self.lock:
            return self.tree.tip.height

    @property
    def tip_header(self) -> BlockHeader:
        with self.lock:
            return self.tree.tip.header

    def next_bits(self) -> int:
        """The ``bits`` the next block on the tip must carry."""
        with self.lock:
            return self.tree.next_bits(self.tree.tip)

    def median_time_past(self) -> int:
        """Median time of the last ``median_time_span`` blocks: the next block must be later."""
        with self.lock:
            return self.tree.median_time_past(self.tree.tip)

    # -- adding blocks --------------------------------------------------------------------
    def add_block(self, block: Block) -> ChainUpdate:
        """Validate and store a block; switch to its branch if it has the most work.

        Returns a ``ChainUpdate`` (status "new_tip", "side_branch", "orphan" or "duplicate");
        raises a ``BlockValidationError``/``TxValidationError`` subclass for an invalid block,
        whose ``.update`` is the net change (status "unchanged" unless the chain had to settle
        on another branch than before, which a node must pass to the mempool too).
        """
        with self.lock:
            known = self.tree.get(block.hash_in(self.suite))
            if known is not None:
                if known.status == "invalid":
                    exc = BlockValidationError(
                        f"{describe_block(block, known.height, self.suite)} is already known to be invalid: "
                        f"{known.reason}", block)
                    exc.update = ChainUpdate("unchanged")
                    raise exc
                return ChainUpdate("duplicate")
            if block.hash_in(self.suite) in self.orphans:
                return ChainUpdate("duplicate")
            try:
                self.ledger.check_block_syntax(block, self.params)
            except ValidationError as exc:
                exc.update = ChainUpdate("unchanged")
                raise
            if self.tree.get(block.prev_hash) is None:
                self._add_orphan(block)
                return ChainUpdate("orphan")
            old_tip = self.tree.tip
            try:
                self._accept(block)
            except ValidationError as exc:
                if self.tree.get(block.hash_in(self.suite)) is not None:
                    self._accept_orphans_of(block.hash_in(self.suite))  # orphans of an invalid block are dropped
                exc.update = self._update_since(old_tip, "unchanged")
                raise
            self._accept_orphans_of(block.hash_in(self.suite))
            return self._update_since(old_tip, "side_branch")

    def _accept(self, block: Block) -> None:
        parent = self.tree.get(block.prev_hash)
        height = parent.height + 1
        if parent.status == "invalid":
            raise InvalidAncestorError(
                f"{describe_block(block, height, self.suite)} builds on block {short(parent.hash)}, which is "
                f"invalid: {parent.reason}", block)
        check_header_context(block, height, self.tree.next_bits(parent),
                             self.tree.median_time_past(parent), self.clock(), self.params)
        self.ledger.check_block_context(block, height, self.suite)
        entry = self.tree.new_entry(block.header, parent, len(block.transactions))
        try:
            self.store.put_block(entry, block.to_bytes())
        except BaseException:
            self.tree.remove(entry)
            raise
        self._remember(block)
        if entry.better_than(self.tree.tip):
            try:
                self._switch_to(entry)
            except ValidationError:
                self._recover()
                raise

    def _add_orphan(self, block: Block) -> None:
        self.orphans[block.hash_in(self.suite)] = block
        while len(self.orphans) > self.max_orphans:
            self.orphans.popitem(last=False)

    def _accept_orphans_of(self, parent_hash: bytes) -> None:
        """Process held orphans whose parent is now known (errors drop the orphan)."""
        waiting = [parent_hash]
        while waiting:
            parent = waiting.pop()
            for orphan in [b for b in self.orphans.values() if b.prev_hash == parent]:
                del self.orphans[orphan.hash_in(self.suite)]
                try:
                    self._accept(orphan)
                except ValidationError:
                    continue
                waiting.append(orphan.hash_in(self.suite))

    def missing_parents(self) -> list[bytes]:
        """Hashes of blocks the held orphans need (what a node should ask its peers for)."""
        with self.lock:
            return [b.prev_hash for b in self.orphans.values()
                    if b.prev_hash not in self.orphans and self.tree.get(b.prev_hash) is None]

    # -- switching branches ---------------------------------------------------------------
    def _switch_to(self, target: TreeEntry) -> None:
        """Make ``target`` the tip: disconnect to the fork point, connect its branch."""
        fork = self.tree.fork_point(self.tree.tip, target)
        while self.tree.tip is not fork:
            self._disconnect_tip()
        path = []
        node = target
        while node is not fork:
            path.append(node)
            node = node.parent
        for entry in reversed(path):
            block = self._load_block(entry.hash)
            try:
                self._connect(entry, block)
            except ValidationError as exc:
                self._mark_invalid(entry, str(exc))
                raise

    def _recover(self) -> None:
        """Move to the best block not known to be invalid, skipping blocks that turn out invalid."""
        while True:
            best = self.tree.best_candidate()
            if best is self.tree.tip:
                return
            try:
                self._switch_to(best)
            except ValidationError:
                continue

    def _connect(self, entry: TreeEntry, block: Block) -> None:
        self.ledger.connect(self, entry, block)
        entry.status, entry.reason = "valid", ""
        self.tree.set_tip(entry)

    def _disconnect_tip(self) -> None:
        entry = self.tree.tip
        block = self._load_block(entry.hash)
        self.ledger.disconnect(self, entry, block)
        self.tree.set_tip(entry.parent)

    def _mark_invalid(self, entry: TreeEntry, reason: str) -> None:
        changes = []
        for node in self.tree.descendants(entry):
            node.status = "invalid"
            node.reason = reason if node is entry else f"it descends from invalid block {short(entry.hash)}"
            changes.append((node.hash, node.status, node.reason))
        self.store.set_status(changes)

    def _update_since(self, old_tip: TreeEntry, status_if_same: str) -> ChainUpdate:
        new_tip = self.tree.tip
        if new_tip is old_tip:
            return ChainUpdate(status_if_same)
        fork = self.tree.fork_point(old_tip, new_tip)
        disconnected, node = [], old_tip
        while node is not fork:
            disconnected.append(self._load_block(node.hash))
            node = node.parent
        connected = [self._load_block(e.hash) for e in self.tree.main[fork.height + 1:]]
        return ChainUpdate("new_tip", tuple(connected), tuple(disconnected))

    # -- invalidate / reconsider / rewind ----------------------------------------------------
    def invalidate_block(self, block_hash: bytes | str) -> ChainUpdate:
        """Mark a block and its descendants invalid and move to the best remaining branch
        (Bitcoin: invalidateblock). Status "new_tip" if the main chain changed, else "unchanged"."""
        with self.lock:
            entry = self._entry(block_hash)
            if entry.parent is None:
                raise ChainError("the genesis block cannot be invalidated", block_hash)
            old_tip = self.tree.tip
            while self.tree.in_main_chain(entry):
                self._disconnect_tip()
            self._mark_invalid(entry, "invalidated by invalidate_block")
            self._recover()
            return self._update_since(old_tip, "unchanged")

    def reconsider_block(self, block_hash: bytes | str) -> ChainUpdate:
        """Undo ``invalidate_block``: clear the invalid mark of a block, its ancestors and
        descendants, and re-check them when the chain switches to them (Bitcoin: reconsiderblock)."""
        with self.lock:
            entry = self._entry(block_hash)
            old_tip = self.tree.tip
            nodes = self.tree.descendants(entry)
            node = entry.parent
            while node is not None:
                nodes.append(node)
                node = node.parent
            changes = []
            for node in nodes:
                if node.status == "invalid":
                    node.status, node.reason = "candidate", ""
                    changes.append((node.hash, node.status, node.reason))
            self.store.set_status(changes)
            self._recover()
            return self._update_since(old_tip, "unchanged")

    def rewind_to(self, block_hash: bytes | str) -> ChainUpdate:
        """Make ``block_hash`` the tip and forget every block that outranks it (its
        descendants and branches with more work) and all orphans: a node's ``revert``."""
        with self.lock:
            entry = self._entry(block_hash)
            if entry.status == "invalid":
                raise ChainError(f"cannot rewind to block {short(entry.hash)}: it is invalid", block_hash)
            disconnected = []
            while self.tree.fork_point(self.tree.tip, entry) is not self.tree.tip:
                disconnected.append(self._load_block(self.tree.tip.hash))
                self._disconnect_tip()
            fork = self.tree.tip
            doomed = [e for e in self.tree.entries.values() if e.better_than(entry)]
            self.store.delete_blocks([e.hash for e in doomed])
            for e in doomed:
                self.tree.remove(e)
                self._cache.pop(e.hash, None)
            self.orphans.clear()
            try:
                self._switch_to(entry)
            except ValidationError:
                self._recover()
                raise
            connected = tuple(self._load_block(e.hash) for e in self.tree.main[fork.height + 1:])
            status = "new_tip" if connected or disconnected else "unchanged"
            return ChainUpdate(status, connected, tuple(disconnected))

    # -- queries --------------------------------------------------------------------------
    def _entry(self, block_hash: bytes | str) -> TreeEntry:
        if isinstance(block_hash, str):
            try:
                block_hash = bytes.fromhex(block_hash)
            except ValueError:
                raise UnknownBlockError(f"{block_hash!r} is not a block hash in hex", block_hash) from None
        entry = self.tree.get(block_hash) if isinstance(block_hash, bytes) else None
        if entry is None:
            shown = block_hash.hex() if isinstance(block_hash, bytes) else repr(block_hash)
            raise UnknownBlockError(f"no block with hash {shown}", block_hash)
        return entry

    def _remember(self, block: Block) -> None:
        self._cache[block.hash_in(self.suite)] = block
        self._cache.move_to_end(block.hash_in(self.suite))
        while len(self._cache) > BLOCK_CACHE_SIZE:
            self._cache.popitem(last=False)

    def _load_block(self, block_hash: bytes) -> Block:
        block = self._cache.get(block_hash)
        if block is None:
            data = self.store.block_bytes(block_hash)
            if data is None:
                raise UnknownBlockError(f"no block with hash {block_hash.hex()}", block_hash)
            block = self.ledger.block_type.from_bytes(data)
            self._remember(block)
        return block

    def get_block(self, hash_or_height: bytes | str | int) -> Block:
        """A block by hash (bytes or hex), or the main-chain block at a height."""
        with self.lock:
            if isinstance(hash_or_height, int) and not isinstance(hash_or_height, bool):
                if not 0 <= hash_or_height <= self.height:
                    raise UnknownBlockError(
                        f"no block at height {hash_or_height}; the chain is {self.height} blocks high",
                        hash_or_height)
                return self._load_block(self.tree.main[hash_or_height].hash)
            return self._load_block(self._entry(hash_or_height).hash)

    def block_info(self, block_hash: bytes | str) -> BlockInfo:
        with self.lock:
            e = self._entry(block_hash)
            return BlockInfo(e.hash, e.height, e.chainwork, e.status, self.tree.in_main_chain(e),
                             e.prev_hash, e.timestamp, e.header.bits, e.tx_count, e.reason)

    def main_chain_hashes(self, start: int = 0, stop: int | None = None) -> list[bytes]:
        with self.lock:
            return [e.hash for e in self.tree.main[start:stop]]

    def has_transaction(self, txid: bytes) -> bool:
        """Is ``txid`` in the main chain? (an index lookup: no block is read)"""
        with self.lock:
            return self.store.tx_location(txid) is not None

    def get_transaction(self, txid: bytes | str) -> TxInfo:
        """A main-chain transaction, its block and its number of confirmations."""
        with self.lock:
            try:
                raw = bytes.fromhex(txid) if isinstance(txid, str) else bytes(txid)
            except (ValueError, TypeError):
                raise UnknownTransactionError(f"{txid!r} is not a transaction id (64 hex digits)", txid) from None
            location = self.store.tx_location(raw)
            if location is None:
                raise UnknownTransactionError(f"no transaction {raw.hex()} in the main chain", txid)
            block_hash, height, position = location
            tx = self._load_block(block_hash).transactions[position]
            return TxInfo(tx, block_hash, height, self.height - height + 1, position)

    def utxo(self, outpoint: OutPoint) -> Coin | None:
        with self.lock:
            return self.store.coin(outpoint)

    def utxos(self, address: Address | str) -> list[Coin]:
        with self.lock:
            return self.store.coins_of(Address.from_string(address).check_suite(self.suite))

    def balance(self, address: Address | str) -> int:
        with self.lock:
            return self.store.balance(Address.from_string(address).check_suite(self.suite))

    def locator(self) -> list[bytes]:
        with self.lock:
            return self.tree.locator()

    def hashes_after(self, locator: list[bytes], limit: int = 500) -> list[bytes]:
        with self.lock:
            return self.tree.hashes_after(locator, limit)
