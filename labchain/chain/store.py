"""SQLite storage of the block tree, the UTXO set, undo data and the tip.

Everything the chain knows lives in one SQLite database (stdlib ``sqlite3``): a file in the
node's data dir, or an in-memory database when ``path`` is None (tests, notebooks).

Tables
------
``meta``     network name, genesis hash, format version, tip hash.
``blocks``   every block of the tree (main chain, side branches, invalid ones) with its
             height, cumulative work, first-seen sequence number, status and raw bytes.
``utxos``    the UTXO set of the main chain, indexed by address for balances.
``undo``     per connected block, the coins it spent (``BlockUndo`` bytes).
``txindex``  txid -> (block, height, position) for transactions of the main chain.
``spent``    outpoint -> spending txid and height, for messages like "already spent in block 12".

Crash safety
------------
Each state change is ONE SQLite transaction: storing a block, connecting it (UTXO changes,
undo data, indexes and the new tip together), disconnecting it, or marking blocks invalid. A
process killed at any moment (SIGKILL, power cut) leaves the database as it was before or
after that transaction, never in between: a tip whose UTXO set is exactly the replay of its
blocks. A reorganisation is a sequence of such transactions, so a crash in the middle of one
leaves a consistent state on an intermediate block; on reopen the chain finishes the switch
to the branch with the most work.

Journal settings and why
------------------------
``journal_mode=WAL``: readers do not block the writer and a commit is one append.
``synchronous=NORMAL``: in WAL mode a commit is then atomic and consistent even across a
power cut, but the last few commits before an *operating-system* crash or power loss may be
rolled back (an application crash, including SIGKILL, loses nothing: the WAL is in the OS
page cache). For a blockchain node that is the right trade: blocks lost that way are simply
downloaded again from peers, and ``FULL`` would cost one fsync per block.
(Bitcoin Core makes the same trade: it flushes its UTXO cache to disk only periodically.)

Simplifications versus Bitcoin Core: one database instead of ``blk*.dat`` files plus LevelDB;
no UTXO cache in memory (SQLite's page cache plays that role); no pruning.
"""
from __future__ import annotations

import os
import sqlite3
from typing import Iterable

from labchain.block import BlockHeader
from labchain.crypto import Address
from labchain.core.errors import StoreError
from labchain.core.sqlite import transaction as sqlite_transaction
from labchain.core.params import Params
from labchain.ledger.utxo.tx import OutPoint, TxOut

from labchain.chain.records import BlockUndo, Coin
from labchain.chain.tree import BlockTree, TreeEntry

FORMAT_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blocks (
    hash BLOB PRIMARY KEY, prev BLOB NOT NULL, height INTEGER NOT NULL,
    chainwork TEXT NOT NULL, seq INTEGER NOT NULL, status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '', header BLOB NOT NULL, tx_count INTEGER NOT NULL,
    data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS utxos (
    txid BLOB NOT NULL, idx INTEGER NOT NULL, amount INTEGER NOT NULL, address BLOB NOT NULL,
    height INTEGER NOT NULL, coinbase INTEGER NOT NULL, PRIMARY KEY (txid, idx)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS utxos_by_address ON utxos (address);
CREATE TABLE IF NOT EXISTS undo (hash BLOB PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS txindex (
    txid BLOB PRIMARY KEY, block BLOB NOT NULL, height INTEGER NOT NULL, position INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS spent (
    txid BLOB NOT NULL, idx INTEGER NOT NULL, spender BLOB NOT NULL, height INTEGER NOT NULL,
    PRIMARY KEY (txid, idx)) WITHOUT ROWID;
"""


def _coin_row(coin: Coin) -> tuple:
    return (coin.outpoint.txid, coin.outpoint.index, coin.output.amount,
            coin.output.address.to_bytes(), coin.height, int(coin.is_coinbase))


def _row_coin(row) -> Coin:
    txid, idx, amount, address, height, coinbase = row
    return Coin(OutPoint(txid, idx), TxOut(amount, Address.from_bytes(address)), height, bool(coinbase))


class Store:
    """The chain's SQLite database. Not thread-safe by itself: ``Chain`` holds a lock."""

    def __init__(self, path: str | os.PathLike | None, params: Params, genesis_hash: bytes) -> None:
        self.path = None if path is None else os.fspath(path)
        self.suite = params.crypto  # txids and block hashes of the rows are this suite's
        try:
            self.db = sqlite3.connect(
                ":memory:" if path is None else self.path, isolation_level=None,
                check_same_thread=False,
            )
            if path is not None:
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(SCHEMA)
            self._check_network(params, genesis_hash)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open chain database {self.path or ':memory:'}: {exc}", path) from None

    def _check_network(self, params: Params, genesis_hash: bytes) -> None:
        meta = dict(self.db.execute("SELECT key, value FROM meta"))
        if not meta:
            with self.transaction():
                self.db.executemany("INSERT INTO meta VALUES (?, ?)", [
                    ("format", str(FORMAT_VERSION)), ("network", params.name),
                    ("genesis", genesis_hash.hex()),
                ])
            return
        if meta.get("format") != str(FORMAT_VERSION):
            raise StoreError(
                f"chain database {self.path} has format {meta.get('format')}, this labchain "
                f"reads format {FORMAT_VERSION}", self.path)
        if meta.get("network") != params.name or meta.get("genesis") != genesis_hash.hex():
            raise StoreError(
                f"data dir {self.path} holds the {meta.get('network')!r} chain (genesis "
                f"{str(meta.get('genesis'))[:16]}...), not {params.name!r} (genesis "
                f"{genesis_hash.hex()[:16]}...): use another data dir", self.path)

    def close(self) -> None:
        self.db.close()

    def transaction(self):
        """All statements inside commit together or not at all (``labchain.core.sqlite``)."""
        return sqlite_transaction(self.db)

    # -- tip and block tree ---------------------------------------------------------------
    def tip(self) -> bytes | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = 'tip'").fetchone()
        return bytes.fromhex(row[0]) if row else None

    def _set_tip(self, block_hash: bytes) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('tip', ?)", (block_hash.hex(),))

    def load_tree(self, tree: BlockTree) -> None:
        """Rebuild the in-memory block tree from the ``blocks`` table (parents come first)."""
        cur = self.db.execute(
            "SELECT hash, prev, height, chainwork, seq, status, reason, header, tx_count "
            "FROM blocks ORDER BY seq")
        for block_hash, prev, height, work, seq, status, reason, header, tx_count in cur:
            parent = tree.get(prev) if height else None
            if height and parent is None:
                raise StoreError(f"stored block {block_hash.hex()[:8]} has no stored parent", block_hash)
            tree.insert(TreeEntry(block_hash, BlockHeader.from_bytes(header), height, int(work, 16),
                                  seq, status, tx_count, parent, reason))

    def put_block(self, entry: TreeEntry, data: bytes) -> None:
        with self.transaction():
            self.db.execute(
                "INSERT INTO blocks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (entry.hash, entry.prev_hash, entry.height, f"{entry.chainwork:x}", entry.seq,
                 entry.status, entry.reason, entry.header.to_bytes(), entry.tx_count, data))

    def block_bytes(self, block_hash: bytes) -> bytes | None:
        row = self.db.execute("SELECT data FROM blocks WHERE hash = ?", (block_hash,)).fetchone()
        return row[0] if row else None

    def set_status(self, changes: Iterable[tuple[bytes, str, str]]) -> None:
        """Set (hash, status, reason) of several blocks in one transaction."""
        with self.transaction():
            self.db.executemany("UPDATE blocks SET status = ?, reason = ? WHERE hash = ?",
                                [(status, reason, h) for h, status, reason in changes])

    def delete_blocks(self, hashes: Iterable[bytes]) -> None:
        with self.transaction():
            self.db.executemany("DELETE FROM blocks WHERE hash = ?", [(h,) for h in hashes])

    # -- UTXO set and indexes -------------------------------------------------------------
    def coin(self, outpoint: OutPoint) -> Coin | None:
        row = self.db.execute("SELECT * FROM utxos WHERE txid = ? AND idx = ?",
                              (outpoint.txid, outpoint.index)).fetchone()
        return _row_coin(row) if row else None

    def coins_of(self, address: Address) -> list[Coin]:
        cur = self.db.execute("SELECT * FROM utxos WHERE address = ? ORDER BY height, txid, idx",
                              (address.to_bytes(),))
        return [_row_coin(row) for row in cur]

    def balance(self, address: Address) -> int:
        row = self.db.execute("SELECT COALESCE(SUM(amount), 0) FROM utxos WHERE address = ?",
                              (address.to_bytes(),)).fetchone()
        return row[0]

    def all_coins(self) -> list[Coin]:
        return [_row_coin(row) for row in self.db.execute("SELECT * FROM utxos ORDER BY txid, idx")]

    def spend_record(self, outpoint: OutPoint) -> tuple[bytes, int] | None:
        """(spending txid, height) of a main-chain output that was spent."""
        return self.db.execute("SELECT spender, height FROM spent WHERE txid = ? AND idx = ?",
                               (outpoint.txid, outpoint.index)).fetchone()

    def tx_location(self, txid: bytes) -> tuple[bytes, int, int] | None:
        """(block hash, height, position) of a main-chain transaction."""
        return self.db.execute("SELECT block, height, position FROM txindex WHERE txid = ?",
                               (txid,)).fetchone()

    def heights_of(self, txids: list[bytes]) -> dict[bytes, int]:
        """Main-chain height of each of ``txids`` that is in the main chain (one query per 500)."""
        found = {}
        for i in range(0, len(txids), 500):
            chunk = txids[i:i + 500]
            found.update(self.db.execute(
                f"SELECT txid, height FROM txindex WHERE txid IN ({','.join('?' * len(chunk))})", chunk))
        return found

    def undo(self, block_hash: bytes) -> BlockUndo:
        row = self.db.execute("SELECT data FROM undo WHERE hash = ?", (block_hash,)).fetchone()
        if row is None:
            raise StoreError(f"no undo data for block {block_hash.hex()[:8]}", block_hash)
        return BlockUndo.from_bytes(row[0])

    # -- connecting and disconnecting: one transaction each ----------------------------------
    def connect(self, block, height: int, created: Iterable[Coin], spent: BlockUndo) -> None:
        """Apply a validated block: its new coins, the coins it spent, indexes, undo, tip."""
        suite = self.suite
        block_hash = block.hash_in(suite)
        with self.transaction() as db:
            db.executemany("DELETE FROM utxos WHERE txid = ? AND idx = ?",
                           [(c.outpoint.txid, c.outpoint.index) for c in spent.spent])
            db.executemany("INSERT INTO utxos VALUES (?, ?, ?, ?, ?, ?)", [_coin_row(c) for c in created])
            db.executemany("INSERT OR REPLACE INTO spent VALUES (?, ?, ?, ?)", [
                (i.prevout.txid, i.prevout.index, tx.txid_in(suite), height)
                for tx in block.transactions for i in tx.inputs])
            db.executemany("INSERT INTO txindex VALUES (?, ?, ?, ?)", [
                (tx.txid_in(suite), block_hash, height, n) for n, tx in enumerate(block.transactions)])
            db.execute("INSERT OR REPLACE INTO undo VALUES (?, ?)", (block_hash, spent.to_bytes()))
            db.execute("UPDATE blocks SET status = 'valid', reason = '' WHERE hash = ?", (block_hash,))
            self._set_tip(block_hash)

    def disconnect(self, block, undo: BlockUndo) -> None:
        """Undo ``connect``: delete the block's coins, restore the ones it spent, tip = parent."""
        suite = self.suite
        in_block = {tx.txid_in(suite) for tx in block.transactions}
        with self.transaction() as db:
            db.executemany("DELETE FROM utxos WHERE txid = ? AND idx = ?", [
                (tx.txid_in(suite), n) for tx in block.transactions for n in range(len(tx.outputs))])
            db.executemany("INSERT INTO utxos VALUES (?, ?, ?, ?, ?, ?)", [_coin_row(c) for c in undo.spent])
            db.executemany("DELETE FROM spent WHERE txid = ? AND idx = ?", [
                (i.prevout.txid, i.prevout.index) for tx in block.transactions for i in tx.inputs])
            db.executemany("DELETE FROM txindex WHERE txid = ?", [(t,) for t in in_block])
            db.execute("DELETE FROM undo WHERE hash = ?", (block.hash_in(suite),))
            self._set_tip(block.prev_hash)
