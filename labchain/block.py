"""Blocks and block headers.

Terminology
-----------
header
    80 bytes, as in Bitcoin: version, previous block hash, Merkle root of the transactions,
    timestamp, ``bits`` (the compact target) and nonce. Its hash256 is the block's id: the
    chain suite's (``header.hash_in(params.crypto)``; ``header.hash`` is p256-sha256's).
proof of work
    The header hash, read as a big-endian number, must not exceed the target. Miners vary
    the nonce (and the timestamp when the 2**32 nonces run out) until it does.
genesis block
    Block 0, fixed by the network's :class:`~labchain.params.Params` (its suite gives the
    account keys, addresses and ids); it is accepted by definition, not mined (its proof of
    work is not checked).

Simplifications versus Bitcoin
------------------------------
* Hashes are shown in the byte order they are computed; Bitcoin displays them reversed.
* The genesis coinbase pre-funds the network's test accounts (regtest and lab).

This module checks what can be checked from the block alone (:func:`check_block_syntax`);
rules that need the chain (expected target, median time, coinbase amount, UTXOs) live in
``labchain.chain.validation``.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from labchain.crypto import PrivateKey, hash256
from labchain.crypto.suite import DEFAULT_SUITE, Suite
from labchain.consensus.pow.difficulty import bits_to_target, target_to_bits, work_of  # noqa: F401 (re-export)
from labchain.core.encoding import EncodingError, FixedBytes, ListOf, Nested, Record, UInt
from labchain.core.errors import (
    BlockSizeError,
    CoinbaseError,
    DoubleSpendError,
    DuplicateTransactionError,
    MerkleRootError,
    ProofOfWorkError,
)
from labchain.merkle import merkle_root
from labchain.core.params import Params
from labchain.ledger.utxo.tx import NULL_HASH, Transaction, TxOut, check_transaction_syntax, describe_tx, short

HEADER_SIZE = 80
MAX_BLOCK_ITEMS = 1_000_000  # decoding bound; Params.max_block_txs is the consensus limit


@dataclass(frozen=True, slots=True)
class BlockHeader(Record):
    version: int
    prev_hash: bytes
    merkle_root: bytes
    timestamp: int
    bits: int
    nonce: int
    _hash: bytes | None = field(default=None, init=False, repr=False, compare=False)
    _suite_hash: tuple | None = field(default=None, init=False, repr=False, compare=False)  # (name, hash)

    ENCODING = (
        ("version", UInt(4)),
        ("prev_hash", FixedBytes(32)),
        ("merkle_root", FixedBytes(32)),
        ("timestamp", UInt(4)),
        ("bits", UInt(4)),
        ("nonce", UInt(4)),
    )

    @property
    def hash(self) -> bytes:
        """The id on a p256-sha256 chain (labs, vectors). Chain code asks :meth:`hash_in`."""
        if self._hash is None:
            object.__setattr__(self, "_hash", hash256(self.to_bytes()))
        return self._hash

    def hash_in(self, suite: Suite | None = None) -> bytes:
        """The block id on a chain of ``suite`` (None: the default suite, same as :attr:`hash`)."""
        if suite is None or suite.name == DEFAULT_SUITE:
            return self.hash
        cached = self._suite_hash  # one other suite cached: a header lives on one chain
        if cached is None or cached[0] != suite.name:
            cached = (suite.name, suite.hash256(self.to_bytes()))
            object.__setattr__(self, "_suite_hash", cached)
        return cached[1]

    @property
    def target(self) -> int:
        return bits_to_target(self.bits)

    def meets_target(self, suite: Suite | None = None) -> bool:
        """Proof of work on a chain of ``suite`` (None: p256-sha256)."""
        return int.from_bytes(self.hash_in(suite), "big") <= self.target

    def with_nonce(self, nonce: int, timestamp: int | None = None) -> BlockHeader:
        return BlockHeader(
            self.version, self.prev_hash, self.merkle_root,
            self.timestamp if timestamp is None else timestamp, self.bits, nonce,
        )

    def json_extras(self) -> dict[str, Any]:
        return {"hash": self.hash.hex()}


@dataclass(frozen=True, slots=True)
class Block(Record):
    header: BlockHeader
    transactions: tuple[Transaction, ...]

    ENCODING = (
        ("header", Nested(BlockHeader)),
        ("transactions", ListOf(Nested(Transaction), MAX_BLOCK_ITEMS)),
    )

    def __post_init__(self) -> None:
        if isinstance(self.transactions, list):
            object.__setattr__(self, "transactions", tuple(self.transactions))

    @property
    def hash(self) -> bytes:
        return self.header.hash

    def hash_in(self, suite: Suite | None = None) -> bytes:
        return self.header.hash_in(suite)

    @property
    def prev_hash(self) -> bytes:
        return self.header.prev_hash

    def compute_merkle_root(self, suite: Suite | None = None) -> bytes:
        return merkle_root([tx.txid_in(suite) for tx in self.transactions], suite)

    def with_header(self, header: BlockHeader) -> Block:
        """The same body under another header (a solved template)."""
        return Block(header, self.transactions)

    def __str__(self) -> str:
        return f"block {short(self.hash)}"


def check_block_syntax(block: Block, params: Params) -> None:
    """Rules that need nothing but the block (Bitcoin: CheckBlock). Raises, else returns."""
    header, suite = block.header, params.crypto
    name = describe(block, suite)
    check_proof_of_work(block, params, name)
    if not block.transactions:
        raise CoinbaseError(f"{name} has no transactions; the first must be the coinbase", block)
    if len(block.transactions) > params.max_block_txs:
        raise BlockSizeError(
            f"{name} holds {len(block.transactions)} transactions, more than {params.max_block_txs}", block
        )
    size = len(block.to_bytes())
    if size > params.max_block_size:
        raise BlockSizeError(f"{name} is {size} bytes, more than {params.max_block_size}", block)
    if header.merkle_root != block.compute_merkle_root(suite):
        raise MerkleRootError(f"{name}'s Merkle root does not match its transactions", block)
    if not block.transactions[0].is_coinbase:
        raise CoinbaseError(f"the first transaction of {name} is not a coinbase", block)
    txids: set[bytes] = set()
    spent: dict = {}
    for n, tx in enumerate(block.transactions):
        if n and tx.is_coinbase:
            raise CoinbaseError(f"transaction {n} of {name} is a second coinbase", block)
        txid = tx.txid_in(suite)
        if txid in txids:
            raise DuplicateTransactionError(f"{describe(tx, suite)} appears twice in {name}", tx)
        txids.add(txid)
        check_transaction_syntax(tx, params)
        for txin in tx.inputs:
            if txin.prevout in spent:
                raise DoubleSpendError(
                    f"{describe(tx, suite)} and {describe(spent[txin.prevout], suite)} in {name} both spend output {txin.prevout}", tx
                )
            spent[txin.prevout] = tx


def check_proof_of_work(block, params: Params, name: str) -> None:
    """The header's target is allowed and its hash meets it (any ledger model's block)."""
    header, suite = block.header, params.crypto
    try:
        target = header.target
    except EncodingError as exc:
        raise ProofOfWorkError(f"{name} has an invalid target: {exc}", block) from None
    if target > params.pow_limit:
        raise ProofOfWorkError(f"{name} claims a target easier than the network's limit", block)
    block_hash = header.hash_in(suite)
    if int.from_bytes(block_hash, "big") > target:
        raise ProofOfWorkError(
            f"{name} hash {block_hash.hex()[:16]}... is above its target: no valid "
            "proof of work", block
        )


@functools.lru_cache(maxsize=16)
def genesis_block(params: Params) -> Block:
    """Block 0 of a network: its coinbase pre-funds the deterministic test accounts.
    Keys, addresses and the Merkle root come from the network's suite."""
    suite = params.crypto
    outputs = tuple(
        TxOut(params.account_balance, account_key(params, i).address) for i in range(params.funded_accounts)
    )
    if not outputs:  # main-like: an unspendable-in-practice reward to a throwaway key
        outputs = (TxOut(params.initial_reward, suite.key_from_seed("labchain genesis", 0).address),)
    coinbase = Transaction.coinbase(0, outputs, params.genesis_memo[: params.max_memo])
    header = BlockHeader(
        1, NULL_HASH, merkle_root([coinbase.txid_in(suite)], suite), params.genesis_timestamp,
        params.initial_bits, 0
    )
    return Block(header, (coinbase,))


def account_key(params: Params, index: int) -> PrivateKey:
    """Private key of the ``index``-th pre-funded account of a network (Ganache-style), of the
    network's suite: a P-256 ``PrivateKey`` on p256-sha256 chains, a ``KeyPair`` otherwise."""
    return params.crypto.key_from_seed(params.account_seed, index)


def describe(record: Block | Transaction, suite: Suite) -> str:
    """``block 1a2b3c4d`` / ``tx 1a2b3c4d (...)`` with the id of ``suite``'s chain, for messages
    (``str(block)`` names the p256-sha256 id)."""
    if isinstance(record, Block):
        return f"block {short(record.hash_in(suite))}"
    return describe_tx(record, suite)
