"""The chain side of engine-sealed blocks: a committed block extends the tip and is final.

On a chain whose ``consensus.type`` is an engine (solo, raft, pbft, tbft; ``params.consensus``
is a :class:`~labchain.consensus.registry.ConsensusSpec`) blocks reach the chain only through
:meth:`FinalityLog.append`, called by the node's consensus driver for each ``Commit`` the engine
emits. Such a block must extend the current tip (a final block is never reorganised away), it
is added with the ordinary ``Chain.add_block`` (every ledger rule applies) and its commit
certificate (the engine's proof; empty for Solo and Raft) is stored beside it, by height.

Terminology
-----------
final block
    A block an engine committed. Nothing below it ever changes: there is no fork choice on an
    engine chain, the next block must name the tip as its parent (:class:`FinalityError`).
sealing
    Giving an engine's block a header. The header is the proof-of-work chain's ``BlockHeader``
    unchanged (version, parent, Merkle root, timestamp, bits, nonce) so the byte encoding of
    blocks is the same on every chain; ``bits`` is the engine chain's trivial target (half of
    all hashes meet it) and :func:`seal` tries nonces 0, 1, 2... (two on average), so the header
    checks of ``block.check_block_syntax`` hold without a special case.

Decisions
---------
* No hook in the fork choice: the driver appends only blocks on the tip, the node refuses
  relayed blocks on an engine chain, and the ``invalidateblock``/``revert`` RPCs are refused
  there (labchain/node/consensus.py), so a final block is never disconnected.
* :func:`build_block` asks the chain's ledger model (``LedgerModel.build_block``), as proof of
  work asks the model's pool for a template: UTXO blocks (:func:`build_utxo_block`) or account
  blocks (``AccountModel.build_block``, docs/accounts-on-engines.md), chosen by the chain config.
* It is deterministic (Raft): the same parent and the same ordered commands give the same block
  on every node: transactions are tried in order (an invalid or conflicting one is left out, on
  every node alike), the timestamp is one second past the parent's median time past unless
  ``timestamp`` is given (a proposer's clock: Solo, BFT), the subsidy goes to ``reward_address``
  (UTXO: the coinbase; accounts: credited to the proposer).

Simplifications versus ChainMaker: the certificate is stored as opaque bytes and not
re-verified when the chain is reopened; blocks carry no proposer signature (the engine's
messages and the node's P2P link are what is trusted); fees of an engine block are not paid out
(the coinbase claims only the subsidy, which Bitcoin's rules allow).
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

from labchain.block import Block, BlockHeader
from labchain.core.errors import BlockValidationError, TxValidationError
from labchain.core.params import Params
from labchain.ledger.utxo.tx import Transaction, TxOut
from labchain.merkle import merkle_root

from labchain.chain.chain import Chain
from labchain.chain.mempool import Mempool
from labchain.chain.records import ChainUpdate

#: bytes kept free for the coinbase and the header when a block is filled (as the template does)
BLOCK_RESERVE = 1000


class FinalityError(BlockValidationError):
    """A committed block does not extend the tip, or would replace a final block."""


def engine_chain(params: Params) -> bool:
    """True when a message-passing engine, not proof of work, seals this chain's blocks."""
    return getattr(params, "consensus", None) is not None


def seal(header: BlockHeader, params: Params) -> BlockHeader:
    """The header with the first nonce from 0 whose hash meets its (trivial) target."""
    suite = params.crypto
    for nonce in range(1 << 32):
        candidate = header.with_nonce(nonce)
        if candidate.meets_target(suite):
            return candidate
    raise BlockValidationError("no nonce meets the engine chain's target; its bits are not "
                               "the trivial target of an engine chain", header)


def build_block(chain: Chain, transactions: list, reward_address,
                timestamp: int | None = None, capacity: int | None = None) -> tuple:
    """A sealed block on the tip with those of ``transactions`` that are valid in order, and
    how many were left out, built by the chain's ledger model (UTXO: :func:`build_utxo_block`;
    accounts: ``AccountModel.build_block``). Deterministic for equal inputs."""
    return chain.ledger.build_block(chain, transactions, reward_address, timestamp, capacity)


def engine_timestamp(chain: Chain, timestamp: int | None) -> int:
    """An engine block's time: one second past the parent's median time past, or the
    proposer's clock ``timestamp`` when that is later."""
    mtp = chain.median_time_past()
    return mtp + 1 if timestamp is None else max(int(timestamp), mtp + 1)


def build_utxo_block(chain: Chain, transactions: list[Transaction], reward_address,
                     timestamp: int | None = None, capacity: int | None = None) -> tuple[Block, int]:
    """:func:`build_block` on the UTXO ledger: a coinbase paying the subsidy, then the
    transactions a scratch mempool admits in order."""
    params = chain.params
    with chain.lock:
        scratch = Mempool(chain)
        chosen: list[Transaction] = []
        size, dropped = 0, 0
        limit = min(params.max_block_txs - 1, capacity or params.max_block_txs)
        for tx in transactions:
            tx_size = len(tx.to_bytes())
            if len(chosen) >= limit or size + tx_size > params.max_block_size - BLOCK_RESERVE:
                dropped += 1
                continue
            try:
                scratch.add(tx)
            except TxValidationError:
                dropped += 1
                continue
            chosen.append(tx)
            size += tx_size
        height = chain.height + 1
        coinbase = Transaction.coinbase(height, [TxOut(params.block_reward(height), reward_address)])
        txs = (coinbase, *chosen)
        when = engine_timestamp(chain, timestamp)
        header = BlockHeader(1, chain.tip_hash, merkle_root([t.txid_in(chain.suite) for t in txs], chain.suite),
                             when, chain.next_bits(), 0)
        return Block(seal(header, params), txs), dropped


class FinalityLog:
    """Commit certificates by height, in ``path`` (SQLite; ``None``: in memory)."""

    def __init__(self, chain: Chain, path: str | Path | None = None) -> None:
        self.chain = chain
        self.db = sqlite3.connect(":memory:" if path is None else str(path), check_same_thread=False)
        self.db.execute("CREATE TABLE IF NOT EXISTS final (height INTEGER PRIMARY KEY, hash BLOB NOT NULL, "
                        "certificate BLOB NOT NULL)")
        # a crash between storing a certificate and adding its block leaves a row above the tip
        self.db.execute("DELETE FROM final WHERE height > ?", (chain.height,))
        self.db.commit()

    def append(self, height: int, block: Block, certificate: bytes = b"") -> ChainUpdate | None:
        """Add the committed ``block`` at ``height``; the chain's update. None if that height is
        already final with this very block (a commit seen twice is applied once);
        FinalityError if the block is another one, or does not extend the tip."""
        chain, suite = self.chain, self.chain.suite
        h = block.hash_in(suite)
        with chain.lock:
            if height <= chain.height:
                have = chain.get_block(height).hash_in(suite)
                if have == h:
                    return None
                raise FinalityError(f"block {h.hex()[:16]} was committed at height {height}, where "
                                    f"block {have.hex()[:16]} is already final", block)
            if height != chain.height + 1 or block.prev_hash != chain.tip_hash:
                raise FinalityError(f"committed block {h.hex()[:16]} at height {height} does not extend "
                                    f"the tip (height {chain.height}, {chain.tip_hash.hex()[:16]})", block)
            self.db.execute("INSERT OR REPLACE INTO final VALUES (?, ?, ?)", (height, h, certificate))
            self.db.commit()
            update = chain.add_block(block)
            if update.status != "new_tip":
                raise FinalityError(f"committed block {h.hex()[:16]} did not become the tip "
                                    f"({update.status})", block)
            return update

    def certificate(self, height: int) -> bytes | None:
        row = self.db.execute("SELECT certificate FROM final WHERE height = ?", (height,)).fetchone()
        return None if row is None else bytes(row[0])

    def close(self) -> None:
        self.db.close()
