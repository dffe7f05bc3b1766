"""Receipts: what running each transaction did, committed to by the block's receipts root.

Terminology
-----------
receipt (:class:`Receipt`)
    Per transaction: ``status`` (1 success, 0 failure: the call reverted or ran out of gas;
    the fee is still paid and the nonce still used), ``gas_used``, ``cumulative_gas_used``
    (this and every earlier transaction of the block, as Ethereum's receipts carry), the
    address of a contract created, the events the contract emitted (none when it failed) and
    the revert reason and source line of a failure.
event log (:class:`EventLog`)
    One event: the emitting contract, its name, its topics (``topics[0]`` the event
    signature hash, then one 32-byte topic per indexed field) and its data (the VM's canonical
    encoding of every field). A node filters logs by contract and topic (``getlogs``).
receipts root
    :func:`labchain.merkle.merkle_root` (RFC 6962 shape, with the chain's suite) over the
    suite's ``hash256`` of each receipt's encoding, in block order.

Simplifications versus Ethereum: no logs bloom filter in the header, and a receipt names its
transaction id (Ethereum's receipt trie is keyed by the index instead).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from labchain.core.encoding import FixedBytes, ListOf, Nested, Record, UInt, VarBytes
from labchain.crypto.suite import Suite
from labchain.merkle import merkle_proof, merkle_root, MerkleProof, verify_proof as merkle_verify

from labchain.ledger.account.tx import AccountAddress, AccountAddressCodec, Text

STATUS_FAILED = 0
STATUS_SUCCESS = 1
MAX_EVENTS = 1024
MAX_TOPICS = 5          # Ethereum: LOG0..LOG4, plus the signature topic here


@dataclass(frozen=True, slots=True)
class EventLog(Record):
    contract: AccountAddress
    name: str
    topics: tuple[bytes, ...]
    data: bytes

    ENCODING = (
        ("contract", AccountAddressCodec()),
        ("name", Text(64)),
        ("topics", ListOf(FixedBytes(32), MAX_TOPICS)),
        ("data", VarBytes(64 * 1024)),
    )


@dataclass(frozen=True, slots=True)
class Receipt(Record):
    txid: bytes
    status: int
    gas_used: int
    cumulative_gas_used: int
    contract_address: AccountAddress | None = None
    events: tuple[EventLog, ...] = ()
    revert_reason: str = ""
    revert_line: int = 0        # 0: none (lines count from 1)

    ENCODING = (
        ("txid", FixedBytes(32)),
        ("status", UInt(1)),
        ("gas_used", UInt(8)),
        ("cumulative_gas_used", UInt(8)),
        ("contract_address", AccountAddressCodec(optional=True)),
        ("events", ListOf(Nested(EventLog), MAX_EVENTS)),
        ("revert_reason", Text(1024)),
        ("revert_line", UInt(4)),
    )

    @property
    def succeeded(self) -> bool:
        return self.status == STATUS_SUCCESS

    def hash(self, suite: Suite) -> bytes:
        return suite.hash256(self.to_bytes())


def receipts_root(suite: Suite, receipts: Sequence[Receipt]) -> bytes:
    """The Merkle root over the receipts' hashes (32 zero bytes for a block without any)."""
    return merkle_root([r.hash(suite) for r in receipts], suite)


def receipt_proof(suite: Suite, receipts: Sequence[Receipt], index: int) -> MerkleProof:
    """Proof that ``receipts[index]`` is under :func:`receipts_root` (for a light client)."""
    return merkle_proof([r.hash(suite) for r in receipts], index, suite)


def verify_receipt(suite: Suite, root: bytes, receipt: Receipt, proof: MerkleProof) -> bool:
    return merkle_verify(receipt.hash(suite), proof, root, suite)
