"""The UTXO set as seen while validating: the stored set plus the changes of one block.

Terminology
-----------
UTXO set
    Every output not yet spent by the main chain: the coins. Validating a transaction means
    looking its inputs up here; connecting a block removes the coins it spends and adds the
    coins it creates.
view
    :class:`UtxoView` layers one block's changes over a read-only ``CoinSource`` (the SQLite
    store, or the chain plus the mempool). Nothing is written until the whole block has been
    checked; then ``created_coins()`` and ``undo()`` are handed to the store in one
    transaction. A later transaction of the same block may spend an output of an earlier
    one (the view serves it from ``created``).

Simplification versus Bitcoin Core: no in-memory coins cache with periodic flushes
(``CCoinsViewCache`` over LevelDB); SQLite's own page cache does that job here.
"""
from __future__ import annotations

from typing import Protocol

from labchain.crypto.suite import Suite
from labchain.ledger.utxo.tx import OutPoint, Transaction

from labchain.chain.records import BlockUndo, Coin


class CoinSource(Protocol):
    """Read access to a UTXO set and the indexes that explain a missing coin."""

    def coin(self, outpoint: OutPoint) -> Coin | None: ...

    def spend_record(self, outpoint: OutPoint) -> tuple[bytes, int] | None: ...

    def tx_location(self, txid: bytes) -> tuple[bytes, int, int] | None: ...

    def heights_of(self, txids: list[bytes]) -> dict[bytes, int]: ...


class UtxoView:
    """A UTXO set being changed by one block (or one transaction), not yet written."""

    def __init__(self, base: CoinSource, suite: Suite) -> None:
        self.base = base
        self.suite = suite                           # the chain's suite: outpoints name suite txids
        self.created: dict[OutPoint, Coin] = {}
        self.spent: list[Coin] = []                  # undo data: coins from before this block
        self.spent_by: dict[OutPoint, bytes] = {}    # outpoint -> txid that spent it here

    def coin(self, outpoint: OutPoint) -> Coin | None:
        if outpoint in self.spent_by:
            return None
        coin = self.created.get(outpoint)
        return coin if coin is not None else self.base.coin(outpoint)

    def spend(self, coin: Coin, spender: bytes) -> None:
        """Mark ``coin`` (just looked up with :meth:`coin`) as spent by tx ``spender``."""
        outpoint = coin.outpoint
        if outpoint not in self.created:  # a coin born in this block needs no undo: it just goes
            self.spent.append(coin)
        self.spent_by[outpoint] = spender

    def add_outputs(self, tx: Transaction, height: int) -> None:
        txid = tx.txid_in(self.suite)
        for n, out in enumerate(tx.outputs):
            outpoint = OutPoint(txid, n)
            self.created[outpoint] = Coin(outpoint, out, height, tx.is_coinbase)

    def created_coins(self) -> list[Coin]:
        """Coins created by the block and not spent again inside it."""
        return [c for op, c in self.created.items() if op not in self.spent_by]

    def undo(self) -> BlockUndo:
        return BlockUndo(tuple(self.spent))
