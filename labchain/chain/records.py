"""Result and record types of the chain layer: what ``Chain`` and ``Mempool`` hand back.

Terminology
-----------
coin
    An unspent transaction output together with where it was created (block height, and
    whether by a coinbase, which matters for maturity). Bitcoin Core calls it ``Coin`` too.
undo data
    The coins a block spent that existed before it, in spending order (Bitcoin: ``CBlockUndo`` in the
    ``rev*.dat`` files). Disconnecting a block deletes the coins it created and puts these
    back, so a reorganisation rolls the UTXO set back *exactly*.
chain update
    What one call changed: the blocks disconnected from the main chain (old tip first) and
    the blocks connected to it (lowest first). The mempool and the node replay it.

``Coin`` and ``BlockUndo`` are canonical records (see ``labchain.encoding``): undo data is
stored in SQLite as bytes, never pickled, and a coin has a JSON form for RPC (``listunspent``).

Simplification versus Bitcoin Core: undo data stores whole coins (Bitcoin compresses amounts
and scripts, and stores the height/coinbase flag only for a transaction's last output).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from labchain.block import Block
from labchain.core.encoding import Codec, EncodingError, ListOf, Nested, Reader, Record, UInt
from labchain.core.params import Params
from labchain.ledger.utxo.tx import OutPoint, Transaction, TxOut

#: ChainUpdate.status values. "new_tip": the main chain changed; "side_branch": the block is
#: stored on a fork with less (or equal, later seen) work; "orphan": its parent is unknown, it
#: is held until the parent arrives; "duplicate": already known; "unchanged": a call
#: (invalidate/rewind) that left the main chain as it was.
STATUSES = ("new_tip", "side_branch", "orphan", "duplicate", "unchanged")


class Flag(Codec):
    """A boolean as one byte 0/1 (strict: any other byte is an encoding error)."""

    def write(self, out: bytearray, value: bool, field: str) -> None:
        if not isinstance(value, bool):
            raise EncodingError(f"{field} must be a bool, got {type(value).__name__}", value)
        out.append(1 if value else 0)

    def read(self, reader: Reader, field: str) -> bool:
        byte = reader.take(1, field)[0]
        if byte > 1:
            raise EncodingError(f"{field} must be 0 or 1, got {byte}", byte)
        return byte == 1

    def from_json(self, value: Any, field: str) -> bool:
        if not isinstance(value, bool):
            raise EncodingError(f"{field} must be true or false", value)
        return value


@dataclass(frozen=True, slots=True)
class Coin(Record):
    """An unspent output and where it was created."""

    outpoint: OutPoint
    output: TxOut
    height: int
    is_coinbase: bool

    ENCODING = (
        ("outpoint", Nested(OutPoint)),
        ("output", Nested(TxOut)),
        ("height", UInt(4)),
        ("is_coinbase", Flag()),
    )

    @property
    def amount(self) -> int:
        return self.output.amount

    def is_mature(self, spend_height: int, params: Params) -> bool:
        """May this coin be spent in a block at ``spend_height``? Coinbase outputs wait
        ``coinbase_maturity`` blocks (Bitcoin: COINBASE_MATURITY); genesis outputs, which
        pre-fund the test accounts, never wait."""
        if not self.is_coinbase or self.height == 0:
            return True
        return spend_height - self.height >= params.coinbase_maturity

    @property
    def address(self):
        return self.output.address


@dataclass(frozen=True, slots=True)
class BlockUndo(Record):
    """The coins one block spent that existed before it, in spending order (Bitcoin: CBlockUndo)."""

    spent: tuple[Coin, ...]

    ENCODING = (("spent", ListOf(Nested(Coin), 10_000_000)),)


@dataclass(frozen=True, slots=True)
class ChainUpdate:
    """What one ``add_block``/``invalidate_block``/``rewind_to`` call changed.

    ``disconnected``: blocks removed from the main chain, old tip first.
    ``connected``: blocks added to the main chain, lowest first.
    """

    status: str
    connected: tuple[Block, ...] = ()
    disconnected: tuple[Block, ...] = ()

    @property
    def tip_changed(self) -> bool:
        return bool(self.connected or self.disconnected)

    @property
    def is_reorg(self) -> bool:
        return bool(self.disconnected)


@dataclass(frozen=True, slots=True)
class BlockInfo:
    """A block's place in the block tree.

    ``status``: "valid" (its transactions were checked when it was connected), "candidate"
    (stored on a side branch: proof of work, target and time checked, transactions not yet
    checked against the UTXO set), or "invalid" (``invalid_reason`` says why).
    """

    hash: bytes
    height: int
    chainwork: int
    status: str
    in_main_chain: bool
    prev_hash: bytes
    timestamp: int
    bits: int
    tx_count: int
    invalid_reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "hash": self.hash.hex(), "height": self.height, "chainwork": f"{self.chainwork:064x}",
            "status": self.status, "in_main_chain": self.in_main_chain,
            "prev_hash": self.prev_hash.hex(), "timestamp": self.timestamp, "bits": self.bits,
            "tx_count": self.tx_count, "invalid_reason": self.invalid_reason,
        }


@dataclass(frozen=True, slots=True)
class TxInfo:
    """A confirmed transaction and where it is; ``confirmations`` = tip height - height + 1."""

    tx: Transaction
    block_hash: bytes
    height: int
    confirmations: int
    position: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "tx": self.tx.to_json(), "block_hash": self.block_hash.hex(), "height": self.height,
            "confirmations": self.confirmations, "position": self.position,
        }
