"""Consensus rules that need context: the UTXO set, the block's height, its ancestors, the clock.

``tx.check_transaction_syntax`` and ``block.check_block_syntax`` check what a transaction or a
block says about itself. This module checks it against the chain:

Block header, against its parent (Bitcoin: ContextualCheckBlockHeader)
    * ``bits`` is the target the difficulty rules require (``BadTargetError``);
    * the timestamp is above the median time past of the parent and at most
      ``max_future_block_time`` seconds ahead of this node's clock (``FutureBlockError``, a ``TimestampError`` a node must not remember as invalid).
Block body, against its height (Bitcoin: ContextualCheckBlock)
    * the coinbase's ``lock_height`` is the block's height (``CoinbaseError``);
    * no transaction's ``lock_height`` is above the block's height (``LockTimeError``).
Transactions, against the UTXO set (Bitcoin: CheckTxInputs, ConnectBlock)
    * each input spends an existing unspent output (``UnknownInputError``,
      ``AlreadySpentError`` naming the spender and block, ``DoubleSpendError`` inside one block
      or against the mempool);
    * the public key hashes to the address of the spent output (``KeyMismatchError``);
    * a coinbase output is spent only after ``coinbase_maturity`` blocks
      (``ImmatureCoinbaseError``; the genesis outputs are exempt, they fund the lab accounts);
    * outputs do not exceed inputs (``InsufficientInputsError``);
    * a transaction is not already in the main chain (``DuplicateTransactionError``);
    * every signature verifies (``BadSignatureError``). Signatures are checked last, all of a
      block's in one batch (``crypto.verify_many``), possibly across processes;
    * the coinbase pays at most the block reward plus the fees (``CoinbaseError``).

Every error names the offending block, transaction, input or output, e.g. "input 0 of tx
ab12cd34 spends output 9f8e7d6c:1, which was already spent by tx 01234567 in block 12".

Simplifications versus Bitcoin: no scripts (an input proves ownership by a public key and a
signature), lock times by height only, no sigop or weight limits, no BIP 30 special cases.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from labchain.block import Block
from labchain.crypto.suite import Suite
from labchain.core.errors import (
    AlreadySpentError,
    BadSignatureError,
    BadTargetError,
    CoinbaseError,
    DoubleSpendError,
    DuplicateTransactionError,
    ImmatureCoinbaseError,
    InsufficientInputsError,
    KeyMismatchError,
    LockTimeError,
    FutureBlockError,
    TimestampError,
    UnknownInputError,
)
from labchain.core.params import Params
from labchain.ledger.utxo.tx import Transaction, short

from labchain.chain.utxo import UtxoView


def describe_block(block: Block, height: int, suite: Suite) -> str:
    return f"block {short(block.hash_in(suite))} at height {height}"


# -- block header and body against the parent and the height --------------------------------

def check_header_context(block: Block, height: int, expected_bits: int, parent_mtp: int,
                         now: int, params: Params) -> None:
    """Target and timestamp rules for a block at ``height`` (its parent is at ``height - 1``)."""
    header, where = block.header, describe_block(block, height, params.crypto)
    if header.bits != expected_bits:
        raise BadTargetError(
            f"{where} has bits 0x{header.bits:08x}, but the difficulty rules require "
            f"0x{expected_bits:08x} (retarget every {params.retarget_interval} blocks)", block)
    if header.timestamp <= parent_mtp:
        raise TimestampError(
            f"{where} has timestamp {header.timestamp}, not after the median time of the "
            f"previous {params.median_time_span} blocks ({parent_mtp})", block)
    if header.timestamp > now + params.max_future_block_time:
        raise FutureBlockError(
            f"{where} has timestamp {header.timestamp}, more than "
            f"{params.max_future_block_time} s ahead of this node's clock ({int(now)})", block)


def check_block_context(block: Block, height: int, suite: Suite) -> None:
    """Height-dependent rules: the coinbase commits to the height, lock heights are reached."""
    coinbase, where = block.transactions[0], describe_block(block, height, suite)
    if coinbase.lock_height != height:
        raise CoinbaseError(
            f"the coinbase of {where} has lock_height {coinbase.lock_height}; it must be the "
            f"block's height {height}", block)
    for tx in block.transactions[1:]:
        check_lock_height(tx, height, suite)


def check_lock_height(tx: Transaction, height: int, suite: Suite) -> None:
    if tx.lock_height > height:
        raise LockTimeError(
            f"tx {short(tx.txid_in(suite))} has lock_height {tx.lock_height}; it cannot be in a block "
            f"before height {tx.lock_height} (this would be height {height})", tx)


# -- transactions against the UTXO set --------------------------------------------------------

@dataclass(slots=True)
class SignatureChecks:
    """Signatures gathered while checking inputs, verified together at the end."""

    #: the chain's suite (``params.crypto``): signature hashes, verification, ids in messages
    suite: Suite
    triples: list[tuple[bytes, bytes, bytes]] = field(default_factory=list)
    owners: list[tuple[Transaction, int]] = field(default_factory=list)

    def add(self, tx: Transaction, n: int) -> None:
        txin = tx.inputs[n]
        self.triples.append((txin.pubkey, tx.signature_hash(n, self.suite), txin.signature))
        self.owners.append((tx, n))

    def verify(self, workers: int = 1) -> None:
        for ok, (tx, n) in zip(self.suite.verify_many(self.triples, workers), self.owners):
            if not ok:
                raise BadSignatureError(
                    f"the signature of input {n} of tx {short(tx.txid_in(self.suite))} does not verify: it was "
                    f"not made by the key of output {tx.inputs[n].prevout} for this transaction", tx)


def _input(tx: Transaction, n: int, suite: Suite) -> str:
    return f"input {n} of tx {short(tx.txid_in(suite))} spends output {tx.inputs[n].prevout}"


def explain_missing_coin(tx: Transaction, n: int, view: UtxoView) -> None:
    """Raise the precise error for an input whose coin is not in ``view``."""
    outpoint = tx.inputs[n].prevout
    where = _input(tx, n, view.suite)
    here = view.spent_by.get(outpoint)
    if here is not None:
        raise DoubleSpendError(f"{where}, which tx {short(here)} of the same block already spends", tx)
    record = view.base.spend_record(outpoint)
    if record is not None:
        spender, height = record
        raise AlreadySpentError(
            f"{where}, which was already spent by tx {short(spender)} in block {height}", tx)
    if view.base.tx_location(outpoint.txid) is not None or _created_here(view, outpoint.txid):
        raise UnknownInputError(f"{where}, but tx {short(outpoint.txid)} has no output {outpoint.index}", tx)
    raise UnknownInputError(f"{where}, which does not exist: no known transaction created it", tx)


def _created_here(view: UtxoView, txid: bytes) -> bool:
    return any(op.txid == txid for op in view.created)


def check_not_in_chain(txs: list[Transaction], view: UtxoView) -> None:
    """No transaction may already be in the main chain (its outputs would exist twice)."""
    suite = view.suite
    found = view.base.heights_of([tx.txid_in(suite) for tx in txs])
    for tx in txs:
        txid = tx.txid_in(suite)
        if txid in found:
            raise DuplicateTransactionError(f"tx {short(txid)} is already in block {found[txid]}", tx)


def spend_inputs(tx: Transaction, view: UtxoView, height: int, params: Params,
                 signatures: SignatureChecks | None) -> int:
    """Spend ``tx``'s inputs in ``view`` for a block at ``height``; return the fee.

    Signatures are added to ``signatures`` to verify later in a batch (None: skip them, for
    transactions whose signatures were verified before and whose txid commits to them).
    """
    total_in, suite = 0, view.suite
    txid = tx.txid_in(suite)
    for n, txin in enumerate(tx.inputs):
        coin = view.coin(txin.prevout)
        if coin is None:
            explain_missing_coin(tx, n, view)
        if not coin.is_mature(height, params):
            raise ImmatureCoinbaseError(
                f"{_input(tx, n, suite)}, a coinbase output of block {coin.height} that matures after "
                f"{params.coinbase_maturity} blocks (at height {coin.height + params.coinbase_maturity})",
                tx)
        if suite.hash160(txin.pubkey) != coin.output.address.pubkey_hash:
            raise KeyMismatchError(
                f"{_input(tx, n, suite)}, which belongs to {coin.output.address}, but its public key "
                f"hashes to another address", tx)
        total_in += coin.output.amount
        view.spend(coin, txid)
        if signatures is not None:
            signatures.add(tx, n)
    total_out = tx.total_out
    if total_out > total_in:
        raise InsufficientInputsError(
            f"tx {short(txid)} spends {total_in} base units but its outputs add up to {total_out}", tx)
    view.add_outputs(tx, height)
    return total_in - total_out


def connect_transactions(block: Block, height: int, view: UtxoView, params: Params,
                         verify_workers: int = 1, verify_signatures: bool = True) -> int:
    """Check every transaction of ``block`` against ``view`` and apply them to it.

    Returns the fees. Raises the first rule broken; the view is then to be thrown away.
    ``verify_signatures=False`` is for a block whose signatures were verified before.
    """
    signatures = SignatureChecks(view.suite) if verify_signatures else None
    fees = 0
    coinbase = block.transactions[0]
    check_not_in_chain(block.transactions, view)
    view.add_outputs(coinbase, height)
    for tx in block.transactions[1:]:
        fees += spend_inputs(tx, view, height, params, signatures)
    allowed = params.block_reward(height) + fees
    if coinbase.total_out > allowed:
        raise CoinbaseError(
            f"the coinbase of {describe_block(block, height, params.crypto)} pays {coinbase.total_out} base units, "
            f"more than the reward {params.block_reward(height)} plus fees {fees}", block)
    if signatures is not None:
        signatures.verify(verify_workers)
    return fees
