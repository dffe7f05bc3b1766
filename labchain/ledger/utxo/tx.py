"""UTXO transactions.

Terminology
-----------
output (``TxOut``)
    An amount of base units locked to an address. Unspent outputs (UTXOs) are the coins.
outpoint
    ``(txid, index)``: names one output of one earlier transaction.
input (``TxIn``)
    Spends an outpoint by showing the public key that hashes to the output's address and a
    signature by that key over this transaction's signature hash.
fee
    Sum of inputs minus sum of outputs; the miner who includes the transaction collects it.
coinbase
    The first transaction of a block: no inputs, creates the block reward plus the fees. Its
    ``lock_height`` is the block's height, which makes every coinbase id unique (Bitcoin: BIP 34).
memo
    Up to ``Params.max_memo`` (80) bytes of data, covered by the signatures (Bitcoin: an
    OP_RETURN output). Labs and graders use it to tag a student's transaction.
signature hash
    What each input signs: the transaction with every signature left empty, plus the input's
    index (Bitcoin: SIGHASH_ALL). Changing any amount, address, input or the memo breaks it.
txid, crypto suite
    The id hash (``suite.hash256``) of the full encoding, on the chain's suite: ``txid_in(suite)``
    and ``signature_hash(i, suite)``; ``txid`` / ``signature_hash(i)`` / ``str(tx)`` mean the
    p256-sha256 id (labs, vectors). Chain code always passes ``params.crypto``.

Simplifications versus Bitcoin
------------------------------
* No script language: every output is "pay to public key hash" and every input is a
  (signature, public key) pair. No multisig, no time-locked scripts.
* ``lock_height`` is the only lock time (by height, never by clock time).
* Amounts are Python integers checked against ``Params.max_money``; Bitcoin uses int64.

This module checks what can be checked from the transaction alone
(:func:`check_transaction_syntax`); rules that need the UTXO set live in
``labchain.chain.validation``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from labchain.crypto import ADDRESS_VERSION, Address, PrivateKey, hash256
from labchain.crypto.suite import DEFAULT_SUITE, Suite, get_suite
from labchain.core.encoding import Codec, FixedBytes, ListOf, Nested, Reader, Record, UInt, VarBytes
from labchain.core.errors import (
    AddressError,
    AmountError,
    DuplicateInputError,
    EncodingError,
    MalformedTransactionError,
)
from labchain.core.params import Params

NULL_HASH = bytes(32)
MAX_TX_ITEMS = 10_000  # decoding bound on inputs/outputs per transaction


class AddressCodec(Codec):
    """An address: 21 bytes on the wire, Base58Check text in JSON."""

    def write(self, out: bytearray, value: Address, field: str) -> None:
        if not isinstance(value, Address):
            raise EncodingError(f"{field} must be an Address, got {type(value).__name__}", value)
        out += value.to_bytes()

    def read(self, reader: Reader, field: str) -> Address:
        try:
            address = Address.from_bytes(reader.take(21, field))
        except AddressError as exc:
            raise EncodingError(f"{field}: {exc}", exc.obj) from None
        if address.version != ADDRESS_VERSION:  # the same rule Address.from_string applies:
            from labchain.crypto.suite import suite_for_version, suite_names  # any registered suite

            if suite_for_version(address.version) is None:
                versions = "/".join(f"0x{get_suite(n).address_version:02x}" for n in suite_names())
                raise EncodingError(
                    f"{field} has address version byte 0x{address.version:02x}, not LabChain's "
                    f"{versions}: it belongs to another network", address
                )
        return address

    def to_json(self, value: Address) -> str:
        return str(value)

    def from_json(self, value: Any, field: str) -> Address:
        try:
            return Address.from_string(value)
        except AddressError as exc:
            raise EncodingError(f"{field}: {exc}", value) from None


def short(h: bytes) -> str:
    """First 8 hex digits of a hash, for messages."""
    return h.hex()[:8]


@dataclass(frozen=True, slots=True)
class OutPoint(Record):
    txid: bytes
    index: int

    ENCODING = (("txid", FixedBytes(32)), ("index", UInt(4)))

    def __str__(self) -> str:
        return f"{short(self.txid)}:{self.index}"


@dataclass(frozen=True, slots=True)
class TxIn(Record):
    prevout: OutPoint
    signature: bytes = b""   # 64 bytes r||s once signed
    pubkey: bytes = b""      # 33-byte compressed public key

    ENCODING = (
        ("prevout", Nested(OutPoint)),
        ("signature", VarBytes(64)),
        ("pubkey", VarBytes(33)),
    )


@dataclass(frozen=True, slots=True)
class TxOut(Record):
    amount: int
    address: Address

    ENCODING = (("amount", UInt(8)), ("address", AddressCodec()))


@dataclass(frozen=True, slots=True)
class Transaction(Record):
    version: int
    inputs: tuple[TxIn, ...]
    outputs: tuple[TxOut, ...]
    memo: bytes = b""
    lock_height: int = 0
    _txid: bytes | None = field(default=None, init=False, repr=False, compare=False)
    _bytes: bytes | None = field(default=None, init=False, repr=False, compare=False)
    _unsigned: bytes | None = field(default=None, init=False, repr=False, compare=False)
    _suite_ids: dict | None = field(default=None, init=False, repr=False, compare=False)

    ENCODING = (
        ("version", UInt(4)),
        ("inputs", ListOf(Nested(TxIn), MAX_TX_ITEMS)),
        ("outputs", ListOf(Nested(TxOut), MAX_TX_ITEMS)),
        ("memo", VarBytes(255)),
        ("lock_height", UInt(4)),
    )

    def __post_init__(self) -> None:
        # accept lists for convenience; records hold tuples so they stay immutable
        for name in ("inputs", "outputs"):
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))

    # The canonical bytes are kept once known (decoded or first encoded): the record is
    # immutable and decoding is strict, so they cannot differ from a fresh encoding. Block
    # validation needs them several times per transaction (txid, block size, storage).
    def to_bytes(self) -> bytes:
        if self._bytes is None:
            out = bytearray()
            Record.write(self, out)
            object.__setattr__(self, "_bytes", bytes(out))
        return self._bytes

    def write(self, out: bytearray) -> None:
        out += self.to_bytes()

    @classmethod
    def read(cls, reader: Reader, where: str | None = None) -> Transaction:
        start = reader.pos
        tx = Record.read.__func__(cls, reader, where)
        object.__setattr__(tx, "_bytes", reader.data[start:reader.pos])
        return tx

    @property
    def txid(self) -> bytes:
        """hash256 of the full encoding (signatures included) on p256-sha256; a chain asks
        :meth:`txid_in` with its suite."""
        if self._txid is None:
            object.__setattr__(self, "_txid", hash256(self.to_bytes()))
        return self._txid

    def txid_in(self, suite: Suite | None = None) -> bytes:
        """The id on a chain of ``suite`` (None: the default suite, same as :attr:`txid`).
        Cached per suite name, so a record never answers with another suite's id."""
        if suite is None or suite.name == DEFAULT_SUITE:
            return self.txid
        if self._suite_ids is None:
            object.__setattr__(self, "_suite_ids", {})
        ids = self._suite_ids
        if suite.name not in ids:
            ids[suite.name] = suite.hash256(self.to_bytes())
        return ids[suite.name]

    @property
    def is_coinbase(self) -> bool:
        return not self.inputs

    @property
    def total_out(self) -> int:
        return sum(o.amount for o in self.outputs)

    def json_extras(self) -> dict[str, Any]:
        return {"txid": self.txid.hex()}

    def __str__(self) -> str:  # names the p256-sha256 id; chain messages use describe_tx
        return describe_tx(self, None)

    # -- signing ----------------------------------------------------------------------------
    def signature_hash(self, index: int, suite: Suite | None = None) -> bytes:
        """The message input ``index`` signs: the tx with empty signatures, plus the index,
        hashed with ``suite``'s id hash (None: the default suite)."""
        if self._unsigned is None:  # encoded once, not once per input (that was quadratic)
            blank = Transaction(
                self.version,
                tuple(TxIn(i.prevout, b"", i.pubkey) for i in self.inputs),
                self.outputs,
                self.memo,
                self.lock_height,
            )
            object.__setattr__(self, "_unsigned", blank.to_bytes())
        return (hash256 if suite is None else suite.hash256)(self._unsigned + index.to_bytes(4, "little"))

    def sign(self, keys: Sequence[PrivateKey], suite: Suite | None = None) -> Transaction:
        """A copy with input ``i`` signed by ``keys[i]`` (its public key filled in too).

        The keys say their suite (``key.suite``: a P-256 ``PrivateKey`` or a ``KeyPair`` of
        any suite); the signature hashes use it. ``suite``, when given, must be the keys'."""
        if len(keys) != len(self.inputs):
            raise ValueError(f"need one key per input: {len(self.inputs)} inputs, {len(keys)} keys")
        names = {k.suite.name for k in keys}
        if len(names) > 1 or (suite is not None and names and names != {suite.name}):
            raise ValueError(f"the keys are of the suites {', '.join(sorted(names))}, but the "
                             f"transaction is signed for {suite.name if suite else 'one suite'}")
        suite = keys[0].suite if keys else suite
        with_keys = Transaction(
            self.version,
            tuple(TxIn(i.prevout, b"", k.public_key.data) for i, k in zip(self.inputs, keys)),
            self.outputs,
            self.memo,
            self.lock_height,
        )
        signed = tuple(
            TxIn(i.prevout, k.sign(with_keys.signature_hash(n, suite)), i.pubkey)
            for n, (i, k) in enumerate(zip(with_keys.inputs, keys))
        )
        return Transaction(self.version, signed, self.outputs, self.memo, self.lock_height)

    @classmethod
    def coinbase(cls, height: int, outputs: Sequence[TxOut], memo: bytes = b"") -> Transaction:
        return cls(1, (), tuple(outputs), memo, height)


def describe_tx(tx: Transaction, suite: Suite | None) -> str:
    """``tx 1a2b3c4d (2 in, 1 out)``, named by its id on a chain of ``suite``, for messages."""
    kind = "coinbase" if tx.is_coinbase else f"{len(tx.inputs)} in"
    try:
        name = short(tx.txid_in(suite))
    except EncodingError:  # e.g. a negative amount: still describe it in error messages
        name = "(not encodable)"
    return f"tx {name} ({kind}, {len(tx.outputs)} out)"


def check_transaction_syntax(tx: Transaction, params: Params) -> None:
    """Rules that need nothing but the transaction. Raises the precise error, else returns."""
    suite = params.crypto
    if not tx.outputs:
        raise MalformedTransactionError(f"{describe_tx(tx, suite)} has no outputs", tx)
    if len(tx.memo) > params.max_memo:
        raise MalformedTransactionError(
            f"{describe_tx(tx, suite)} carries a {len(tx.memo)}-byte memo; at most {params.max_memo} bytes are allowed", tx
        )
    total = 0
    for n, out in enumerate(tx.outputs):
        if out.address.version != suite.address_version:
            raise MalformedTransactionError(_foreign_address(tx, n, out.address, suite), tx)
        if out.amount <= 0:
            raise AmountError(f"output {n} of {describe_tx(tx, suite)} has amount {out.amount}; amounts must be positive", tx)
        if out.amount > params.max_money:
            raise AmountError(
                f"output {n} of {describe_tx(tx, suite)} has amount {out.amount}, above the money supply limit "
                f"{params.max_money}", tx
            )
        total += out.amount
        if total > params.max_money:
            raise AmountError(f"the outputs of {describe_tx(tx, suite)} add up to more than the money supply limit", tx)
    seen: dict[OutPoint, int] = {}
    for n, txin in enumerate(tx.inputs):
        if txin.prevout in seen:
            raise DuplicateInputError(
                f"inputs {seen[txin.prevout]} and {n} of {describe_tx(tx, suite)} both spend output {txin.prevout}", tx
            )
        seen[txin.prevout] = n
        if len(txin.signature) != 64 or len(txin.pubkey) != 33:
            raise MalformedTransactionError(
                f"input {n} of {describe_tx(tx, suite)} is not signed (needs a 64-byte signature and 33-byte public key)", tx
            )


def _foreign_address(tx: Transaction, n: int, address: Address, suite) -> str:
    from labchain.crypto.suite import suite_for_version

    other = suite_for_version(address.version)
    whose = other.name if other is not None else "unknown"
    return (f"output {n} of {describe_tx(tx, suite)} pays {address}, an address of the {whose} crypto suite (version byte "
            f"0x{address.version:02x}), but this chain uses {suite.name} (0x{suite.address_version:02x}): "
            "coins cannot move between chains of different suites")
