"""The mempool: valid transactions waiting for a block, and the block template a miner works on.

Terminology
-----------
mempool
    Transactions this node has checked against the UTXO set of the tip, not yet in a block.
    A transaction may spend outputs of another mempool transaction (its *parent*); a block
    template always places a parent before its *child*.
fee rate
    Fee divided by the transaction's size in bytes. Miners fill a block with the highest
    fee rates first, because the block size is what is scarce.
conflict
    Two transactions spending the same output. The mempool keeps the first one it saw and
    rejects the second with ``DoubleSpendError`` (no replace-by-fee).

Rules: a transaction enters the mempool only if it would be valid in the next block
(height = tip + 1): the same ``labchain.chain.validation`` rules and errors as for blocks.

After the chain changes (``update(chain_update)``)
    * only new blocks connected: their transactions leave the mempool, and mempool
      transactions that spend the same outputs (conflicts) are evicted with their descendants;
    * a reorganisation: the transactions of the disconnected blocks come back, then every
      mempool transaction is checked again against the new tip; those that became invalid
      (mined in the new branch, conflicting, spending an output that no longer exists, or an
      immature coinbase) are evicted. Their signatures are not verified again: a txid commits
      to its signatures, which do not depend on the chain.

Simplifications versus Bitcoin Core: no replace-by-fee, no minimum relay fee, no size limit
with eviction by fee rate, no package (CPFP) scoring in templates, no expiry.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass

from labchain.block import Block, BlockHeader
from labchain.crypto import Address
from labchain.core.errors import (
    DoubleSpendError,
    DuplicateTransactionError,
    MalformedTransactionError,
    ValidationError,
)
from labchain.merkle import merkle_root
from labchain.ledger.utxo.tx import OutPoint, Transaction, TxOut, check_transaction_syntax, short

from labchain.chain.records import ChainUpdate, Coin
from labchain.chain.utxo import UtxoView
from labchain.chain.validation import SignatureChecks, check_lock_height, check_not_in_chain, spend_inputs

#: Bytes kept free in a template for the header, the transaction count and the coinbase.
TEMPLATE_RESERVE = 1_000


@dataclass(frozen=True, slots=True)
class MempoolEntry:
    tx: Transaction
    fee: int
    size: int
    seq: int  # arrival order: a tie-break in templates

    @property
    def fee_rate(self) -> float:
        return self.fee / self.size


class PoolCoins:
    """The chain's coins plus the outputs of mempool transactions: the one mempool-aware coin
    view. Validation of a new transaction looks coins up in it (``coin``: a ``CoinSource``);
    a wallet paying from a node's account selects from it (``utxos`` of an address, minus
    ``spent``, the outpoints pool transactions already spend), so two payments in a row work
    without mining in between, as Bitcoin Core's wallet spends its unconfirmed change."""

    def __init__(self, mempool: Mempool) -> None:
        self.mempool, self.chain, self.store = mempool, mempool.chain, mempool.chain.store
        self.params = mempool.chain.params

    @property
    def height(self) -> int:
        """The tip's height (a wallet's coinbase-maturity check uses it)."""
        return self.chain.height

    def coin(self, outpoint: OutPoint) -> Coin | None:
        entry = self.mempool._entries.get(outpoint.txid)
        if entry is None:
            return self.store.coin(outpoint)
        if outpoint.index >= len(entry.tx.outputs):
            return None
        return Coin(outpoint, entry.tx.outputs[outpoint.index], self.mempool.chain.height + 1, False)

    def utxos(self, address) -> list[Coin]:
        """Confirmed coins of ``address`` and the pool's outputs paying it (height: next block)."""
        with self.chain.lock:
            coins = list(self.chain.utxos(address))
            suite, height = self.chain.suite, self.chain.height
            for entry in self.mempool._entries.values():
                for i, out in enumerate(entry.tx.outputs):
                    if out.address == address:
                        coins.append(Coin(OutPoint(entry.tx.txid_in(suite), i), out, height + 1, False))
        return coins

    @property
    def spent(self) -> set[OutPoint]:
        """Outpoints that some pool transaction spends (pass as a wallet's ``exclude``)."""
        with self.chain.lock:
            return set(self.mempool._spends)

    def spend_record(self, outpoint: OutPoint):
        return self.store.spend_record(outpoint)

    def tx_location(self, txid: bytes):
        return self.store.tx_location(txid)

    def heights_of(self, txids):
        return self.store.heights_of(txids)


class Mempool:
    """Unconfirmed transactions valid on the current tip."""

    def __init__(self, chain) -> None:
        self.chain = chain
        self._entries: dict[bytes, MempoolEntry] = {}   # arrival order = parents before children
        self._spends: dict[OutPoint, bytes] = {}        # outpoint -> txid of the mempool tx spending it
        self._seq = 0

    # Reads take ``chain.lock`` like every change does: ``update`` after a reorganisation
    # empties the pool and adds the transactions back one by one, which another thread must
    # not see half done.
    def __contains__(self, txid: bytes) -> bool:
        with self.chain.lock:
            return txid in self._entries

    def __len__(self) -> int:
        with self.chain.lock:
            return len(self._entries)

    def transactions(self) -> list[Transaction]:
        """All mempool transactions, parents before children."""
        with self.chain.lock:
            return [e.tx for e in self._entries.values()]

    def coins(self) -> PoolCoins:
        """The mempool-aware coin view (see :class:`PoolCoins`)."""
        return PoolCoins(self)

    def get(self, txid: bytes) -> MempoolEntry | None:
        with self.chain.lock:
            return self._entries.get(txid)

    # -- accepting ------------------------------------------------------------------------
    def add(self, tx: Transaction) -> bytes:
        """Check ``tx`` against the tip and keep it; return its txid.

        Raises the ``TxValidationError`` subclass of the first rule it breaks."""
        with self.chain.lock:
            return self._add(tx, verify_signatures=True)

    def _add(self, tx: Transaction, verify_signatures: bool) -> bytes:
        params, suite = self.chain.params, self.chain.suite
        check_transaction_syntax(tx, params)
        txid = tx.txid_in(suite)
        if tx.is_coinbase:
            raise MalformedTransactionError(
                f"tx {short(txid)} is a coinbase: coinbases exist only as the first "
                "transaction of a block", tx)
        if txid in self._entries:
            raise DuplicateTransactionError(f"tx {short(txid)} is already in the mempool", tx)
        size = len(tx.to_bytes())
        if size > params.max_block_size - TEMPLATE_RESERVE:
            raise MalformedTransactionError(
                f"tx {short(txid)} is {size} bytes: it would never fit in a block", tx)
        for n, txin in enumerate(tx.inputs):
            other = self._spends.get(txin.prevout)
            if other is not None:
                raise DoubleSpendError(
                    f"input {n} of tx {short(txid)} spends output {txin.prevout}, which "
                    f"mempool tx {short(other)} already spends", tx)
        height = self.chain.height + 1
        check_lock_height(tx, height, suite)
        view = UtxoView(self.coins(), suite)
        check_not_in_chain([tx], view)
        signatures = SignatureChecks(suite) if verify_signatures else None
        fee = spend_inputs(tx, view, height, params, signatures)
        if signatures is not None:
            signatures.verify()
        self._entries[txid] = MempoolEntry(tx, fee, size, self._seq)
        self._seq += 1
        for txin in tx.inputs:
            self._spends[txin.prevout] = txid
        return txid

    # -- following the chain --------------------------------------------------------------
    def update(self, chain_update: ChainUpdate) -> list[Transaction]:
        """Follow a change of the main chain; return the mempool transactions evicted.

        (Transactions of disconnected blocks that are not valid on the new tip are dropped
        silently: they were never in this mempool.)"""
        with self.chain.lock:
            if chain_update.disconnected:
                return self._rebuild(chain_update.disconnected)
            evicted = []
            suite = self.chain.suite
            for block in chain_update.connected:
                for tx in block.transactions[1:]:
                    txid = tx.txid_in(suite)
                    if txid in self._entries:
                        self._remove(txid)
                    for txin in tx.inputs:
                        rival = self._spends.get(txin.prevout)
                        if rival is not None:
                            evicted += self._remove_with_descendants(rival)
            return evicted

    def _rebuild(self, disconnected: tuple[Block, ...]) -> list[Transaction]:
        old = [e.tx for e in self._entries.values()]
        was_pending = set(self._entries)
        self._entries.clear()
        self._spends.clear()
        returning = [tx for block in reversed(disconnected) for tx in block.transactions[1:]]
        evicted = []
        for tx in returning + old:
            try:
                self._add(tx, verify_signatures=False)
            except ValidationError:
                if tx.txid_in(self.chain.suite) in was_pending:
                    evicted.append(tx)
        return evicted

    def _remove(self, txid: bytes) -> Transaction:
        entry = self._entries.pop(txid)
        for txin in entry.tx.inputs:
            if self._spends.get(txin.prevout) == txid:
                del self._spends[txin.prevout]
        return entry.tx

    def _remove_with_descendants(self, txid: bytes) -> list[Transaction]:
        removed, stack = [], [txid]
        while stack:
            current = stack.pop()
            if current not in self._entries:
                continue
            tx = self._remove(current)
            removed.append(tx)
            stack += [self._spends[OutPoint(current, n)] for n in range(len(tx.outputs))
                      if OutPoint(current, n) in self._spends]
        return removed

    # -- block templates ------------------------------------------------------------------
    def block_template(self, reward_address: Address | str, timestamp: int | None = None) -> Block:
        """A block on the tip with the best-paying transactions, nonce not yet solved.

        Transactions are taken by fee rate (highest first, earliest on ties) as long as they
        fit ``max_block_size``/``max_block_txs``, and only once their mempool parents are in.
        The timestamp is raised to one second past the median time past if needed."""
        with self.chain.lock:
            chain, params = self.chain, self.chain.params
            address = Address.from_string(reward_address).check_suite(chain.suite)
            chosen, fees = self._select(params.max_block_size - TEMPLATE_RESERVE, params.max_block_txs - 1)
            height = chain.height + 1
            coinbase = Transaction.coinbase(height, [TxOut(params.block_reward(height) + fees, address)])
            txs = (coinbase, *chosen)
            when = int(chain.clock() if timestamp is None else timestamp)
            header = BlockHeader(1, chain.tip_hash, merkle_root([t.txid_in(chain.suite) for t in txs], chain.suite),
                                 max(when, chain.median_time_past() + 1), chain.next_bits(), 0)
            return Block(header, txs)

    def _select(self, max_size: int, max_count: int) -> tuple[list[Transaction], int]:
        parents = {txid: {i.prevout.txid for i in e.tx.inputs if i.prevout.txid in self._entries}
                   for txid, e in self._entries.items()}
        children: dict[bytes, list[bytes]] = {}
        for txid, ps in parents.items():
            for p in ps:
                children.setdefault(p, []).append(txid)
        ready = [(-e.fee_rate, e.seq, txid) for txid, e in self._entries.items() if not parents[txid]]
        heapq.heapify(ready)
        chosen, included, size, fees = [], set(), 0, 0
        while ready and len(chosen) < max_count:
            _, _, txid = heapq.heappop(ready)
            entry = self._entries[txid]
            if size + entry.size > max_size:
                continue  # too big for what is left; its children wait too
            chosen.append(entry.tx)
            included.add(txid)
            size += entry.size
            fees += entry.fee
            for child in children.get(txid, ()):
                if parents[child] <= included:
                    c = self._entries[child]
                    heapq.heappush(ready, (-c.fee_rate, c.seq, child))
        return chosen, fees
