"""SQLite storage of the account ledger: the world state, per-block undo data and receipts.

Tables
------
``meta``      format, chain id, suite, height of the last applied block, its state root.
``state``     every state key with its value (accounts, storage slots, contract code).
``undo``      per applied block height, its :class:`~labchain.ledger.account.state.StateUndo`.
``receipts``  txid -> (height, position, receipt bytes).

Crash safety
------------
Applying a block is ONE SQLite transaction: the changed keys, the undo record, the receipts
and the new height and root commit together, and undoing a block is one more. The journal
settings are those of the UTXO store (``labchain/chain/store.py``): WAL, ``synchronous=NORMAL``
(a SIGKILL loses nothing committed; an OS crash may lose the last commits, which peers
resend). On open the tree is rebuilt from the ``state`` table and its root must equal the
stored root, so a reopened store is always at a block boundary it can prove.

Simplifications versus real chains: the tree's internal nodes are not stored (rebuilt on open:
one sort and about ``n`` hashes for ``n`` keys), no pruning of old undo data, and no state
snapshots for fast sync (Ethereum's snap sync, ChainMaker's state archive).
"""
from __future__ import annotations

import os
import sqlite3
from typing import Callable, Mapping, Sequence

from labchain.core.sqlite import transaction as sqlite_transaction
from labchain.crypto.suite import Suite, get_suite

from labchain.ledger.account.block import BlockContext, BlockResult, VerifiedBlock, apply_block, credit
from labchain.ledger.account.errors import BlockContextError, StoreError
from labchain.ledger.account.receipts import Receipt
from labchain.ledger.account.state import StateUndo, WorldState
from labchain.ledger.account.tx import AccountAddress, AccountTx

FORMAT_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS state (key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS undo (height INTEGER PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS receipts (
    txid BLOB PRIMARY KEY, height INTEGER NOT NULL, position INTEGER NOT NULL, data BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS receipts_by_height ON receipts (height, position);
"""


class AccountStore:
    """The account ledger of one chain in one SQLite database (``path`` None: in memory).
    ``height`` is -1 until :meth:`genesis`; the state is in :attr:`state`."""

    def __init__(self, path: str | os.PathLike | None, suite: Suite | str, chain_id: str) -> None:
        self.path = None if path is None else os.fspath(path)
        self.suite = get_suite(suite)
        self.chain_id = chain_id
        self.state = WorldState(self.suite)
        try:
            self.db = sqlite3.connect(":memory:" if path is None else self.path, isolation_level=None)
            if path is not None:
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(SCHEMA)
            self._open()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open account database {self.path or ':memory:'}: {exc}", path) from None

    def _open(self) -> None:
        meta = dict(self.db.execute("SELECT key, value FROM meta"))
        if not meta:
            with self._transaction():
                self.db.executemany("INSERT INTO meta VALUES (?, ?)", [
                    ("format", str(FORMAT_VERSION)), ("chain_id", self.chain_id), ("suite", self.suite.name),
                    ("height", "-1"), ("state_root", self.state.state_root.hex())])
            meta = dict(self.db.execute("SELECT key, value FROM meta"))
        if meta["format"] != str(FORMAT_VERSION):
            raise StoreError(f"account database {self.path} has format {meta['format']}, this labchain reads "
                             f"format {FORMAT_VERSION}", self.path)
        if meta["chain_id"] != self.chain_id or meta["suite"] != self.suite.name:
            raise StoreError(f"account database {self.path} holds chain {meta['chain_id']!r} ({meta['suite']}), "
                             f"not {self.chain_id!r} ({self.suite.name}): use another data dir", self.path)
        self.height = int(meta["height"])
        self.state.load(self.db.execute("SELECT key, value FROM state"))
        if self.state.state_root.hex() != meta["state_root"]:
            raise StoreError(f"account database {self.path} is corrupted: its state hashes to "
                             f"{self.state.state_root.hex()[:16]}..., not the stored root "
                             f"{meta['state_root'][:16]}... of height {self.height}", self.path)

    def close(self) -> None:
        self.db.close()

    def _transaction(self):
        return sqlite_transaction(self.db)

    @property
    def state_root(self) -> bytes:
        return self.state.state_root

    def _write(self, keys, height: int, undo: StateUndo | None, receipts: Sequence[Receipt]) -> None:
        values = [(k, self.state.get(k)) for k in keys]
        with self._transaction() as db:
            db.executemany("DELETE FROM state WHERE key = ?", [(k,) for k, v in values if v is None])
            db.executemany("INSERT OR REPLACE INTO state VALUES (?, ?)", [(k, v) for k, v in values if v is not None])
            if undo is not None:
                db.execute("INSERT INTO undo VALUES (?, ?)", (height, undo.to_bytes()))
            else:  # undoing: the block's undo record and receipts go
                db.execute("DELETE FROM undo WHERE height = ?", (height + 1,))
                db.execute("DELETE FROM receipts WHERE height = ?", (height + 1,))
            db.executemany("INSERT INTO receipts VALUES (?, ?, ?, ?)",
                           [(r.txid, height, n, r.to_bytes()) for n, r in enumerate(receipts)])
            db.execute("UPDATE meta SET value = ? WHERE key = 'height'", (str(height),))
            db.execute("UPDATE meta SET value = ? WHERE key = 'state_root'", (self.state.state_root.hex(),))

    def genesis(self, allocations: Mapping[AccountAddress, int]) -> bytes:
        """Height 0: the initial balances (Ethereum's genesis ``alloc``). Returns the state root."""
        if self.height != -1:
            raise BlockContextError(f"the account store already has blocks up to height {self.height}", self.height)
        mark, before = self.state.snapshot(), self.state.state_root
        for address, amount in sorted(allocations.items()):
            credit(self.state, address, amount)
        undo = self.state.take_undo(mark, before)
        self._commit(undo, 0, ())
        return self.state.state_root

    def _commit(self, undo: StateUndo, height: int, receipts: Sequence[Receipt]) -> None:
        try:
            self._write([e.key for e in undo.entries], height, undo, receipts)
        except sqlite3.DatabaseError as exc:
            self.state.apply_undo(undo)
            raise StoreError(f"cannot write block {height} to {self.path or ':memory:'}: {exc}", height) from None
        self.height = height

    def apply_block(self, txs: Sequence[AccountTx], ctx: BlockContext, reward: int = 0,
                    check: Callable[[BlockResult], None] | None = None,
                    verified: VerifiedBlock | None = None) -> BlockResult:
        """Apply and store the next block (one SQLite transaction). ``reward``: see
        :func:`apply_block`; ``check(result)`` may raise to refuse the block before it is stored
        (a header's claimed roots), the state then left as it was. ``verified``: this block's
        execution on this very state (the caller vouches that it is of ``txs`` and ``ctx``),
        written instead of executing again when it starts from the current state root at this
        height; otherwise ignored and the block executed."""
        if ctx.height != self.height + 1:
            raise BlockContextError(f"the next block of this account store is height {self.height + 1}, "
                                    f"not {ctx.height}", ctx)
        if ctx.chain_id != self.chain_id:
            raise BlockContextError(f"block context is for chain {ctx.chain_id!r}, this store holds "
                                    f"{self.chain_id!r}", ctx)
        if self.reusable(verified, ctx.height):
            self.state.apply_writes(verified.result.undo, verified.writes)
            result = verified.result
        else:
            result = apply_block(self.state, txs, ctx, reward)
        if check is not None:
            try:
                check(result)
            except BaseException:
                self.state.apply_undo(result.undo)
                raise
        self._commit(result.undo, ctx.height, result.receipts)
        return result

    def reusable(self, verified: VerifiedBlock | None, height: int) -> bool:
        """True when ``verified`` was executed on the current state for block ``height``."""
        return (verified is not None and verified.height == height == self.height + 1
                and verified.result.undo.prev_root == self.state.state_root)

    def undo_block(self) -> int:
        """Undo the last applied block (a reorganisation); returns the new height."""
        if self.height <= 0:
            raise BlockContextError("there is no applied block to undo (genesis stays)", self.height)
        row = self.db.execute("SELECT data FROM undo WHERE height = ?", (self.height,)).fetchone()
        if row is None:
            raise StoreError(f"no undo data for block {self.height}", self.height)
        undo = StateUndo.from_bytes(row[0])
        self.state.apply_undo(undo)
        try:
            self._write([e.key for e in undo.entries], self.height - 1, None, ())
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot undo block {self.height} in {self.path or ':memory:'}: {exc}; "
                             "reopen the store", self.height) from None
        self.height -= 1
        return self.height

    def receipt(self, txid: bytes) -> tuple[int, int, Receipt] | None:
        """(height, position, receipt) of a transaction of an applied block."""
        row = self.db.execute("SELECT height, position, data FROM receipts WHERE txid = ?", (txid,)).fetchone()
        return None if row is None else (row[0], row[1], Receipt.from_bytes(row[2]))

    def receipts(self, height: int) -> list[Receipt]:
        return [Receipt.from_bytes(d) for (d,) in self.db.execute(
            "SELECT data FROM receipts WHERE height = ? ORDER BY position", (height,))]
