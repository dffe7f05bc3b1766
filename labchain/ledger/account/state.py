"""The world state: every account and every contract's storage under one state root.

Terminology
-----------
account (:class:`Account`)
    ``nonce``, ``balance`` and ``code_hash`` (empty for a key-owned account). An account with
    nonce 0, balance 0 and no code is *empty* and is not stored at all (Ethereum's EIP-161),
    so "never touched" and "emptied" give the same root.
state key
    The bytes a value is stored under: ``b"a" + address`` (an account), ``b"s" + contract
    address + key`` (one storage slot of a contract), ``b"c" + code hash`` (contract source).
    The tree's path for a key is the suite's hash of it (:mod:`labchain.ledger.account.smt`).
state root
    The root of the one sparse Merkle tree over all state keys: a block commits to the whole
    state with it, and :func:`verify_proof` checks one key's value (or its absence) against it.
journal
    Every write appends ``(key, previous value)``: :meth:`WorldState.snapshot` is a position in
    it and :meth:`WorldState.revert_to` undoes back to it (a reverted contract call), and
    :meth:`WorldState.take_undo` turns a block's part of it into :class:`StateUndo`.

Why one flat tree rather than Ethereum's account trie plus a storage trie per account: one
proof format and one verifier for accounts and storage slots alike, and a regulator's check
of a slot is one proof, not two chained ones; the price is that an account does not carry its
own storage root (a contract's storage cannot be dropped or compared in one step). See
docs/account-ledger.md.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

from labchain.core.encoding import Codec, EncodingError, FixedBytes, ListOf, Nested, Reader, Record, UInt, VarBytes
from labchain.crypto.suite import Suite, get_suite

from labchain.ledger.account import smt
from labchain.ledger.account.errors import StateError, UndoError
from labchain.ledger.account.smt import StateProof
from labchain.ledger.account.tx import AccountAddress

ACCOUNT_PREFIX = b"a"
STORAGE_PREFIX = b"s"
CODE_PREFIX = b"c"
MAX_STORAGE_KEY = 256      # bytes of one storage key (the VM's canonical key encoding)
MAX_VALUE = 1 << 20        # bytes of one stored value (contract source included)


class BigUInt(Codec):
    """An unsigned integer of up to ``size`` bytes: minimal big-endian bytes with a length
    prefix (no leading zero byte, so one encoding per number); a JSON integer."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.raw = VarBytes(size)

    def check(self, value, field: str) -> int:
        if type(value) is not int or not 0 <= value < 1 << (8 * self.size):
            raise EncodingError(f"{field} must be an integer in 0..2^{8 * self.size}-1, got {value!r}", value)
        return value

    def write(self, out: bytearray, value: int, field: str) -> None:
        value = self.check(value, field)
        self.raw.write(out, value.to_bytes((value.bit_length() + 7) // 8, "big"), field)

    def read(self, reader: Reader, field: str) -> int:
        raw = self.raw.read(reader, field)
        if raw[:1] == b"\x00":
            raise EncodingError(f"{field} has a leading zero byte (non-canonical)", raw)
        return int.from_bytes(raw, "big")

    def from_json(self, value, field: str) -> int:
        return self.check(value, field)


@dataclass(frozen=True, slots=True)
class Account(Record):
    nonce: int = 0
    balance: int = 0
    code_hash: bytes = b""     # suite hash of the contract source; empty for a key-owned account

    # balance: up to 16 bytes, since fees and genesis sums may pass 2^64 base units
    ENCODING = (("nonce", UInt(8)), ("balance", BigUInt(16)), ("code_hash", VarBytes(32)))

    @property
    def is_empty(self) -> bool:
        return self.nonce == 0 and self.balance == 0 and not self.code_hash


EMPTY_ACCOUNT = Account()


def account_key(address: AccountAddress) -> bytes:
    return ACCOUNT_PREFIX + address.to_bytes()


def storage_key(contract: AccountAddress, key: bytes) -> bytes:
    if not isinstance(key, bytes) or not key or len(key) > MAX_STORAGE_KEY:
        raise StateError(f"a storage key is 1..{MAX_STORAGE_KEY} bytes, got {key!r:.40}", key)
    return STORAGE_PREFIX + contract.to_bytes() + key


def code_key(code_hash: bytes) -> bytes:
    return CODE_PREFIX + code_hash


@dataclass(frozen=True, slots=True)
class UndoEntry(Record):
    """One key a block changed and the value it had before (``existed`` False: it was absent)."""

    key: bytes
    existed: int
    value: bytes

    ENCODING = (("key", VarBytes(1 + 21 + MAX_STORAGE_KEY)), ("existed", UInt(1)), ("value", VarBytes(MAX_VALUE)))


@dataclass(frozen=True, slots=True)
class StateUndo(Record):
    """What :func:`~labchain.ledger.account.block.undo_block` needs: the roots before and after
    the block and the previous value of every key the block changed."""

    prev_root: bytes
    post_root: bytes
    entries: tuple[UndoEntry, ...]

    ENCODING = (("prev_root", FixedBytes(32)), ("post_root", FixedBytes(32)),
                ("entries", ListOf(Nested(UndoEntry), 10_000_000)))


def verify_proof(suite: Suite | str, root: bytes, key: bytes, value: bytes | None, proof: StateProof) -> bool:
    """True when ``proof`` shows that ``key`` holds ``value`` (None: holds nothing) in the state
    committed to by ``root``. Needs only the suite: what a light client or a regulator runs."""
    suite = get_suite(suite)
    try:
        return smt.root_from_proof(suite, suite.hash(key), value, proof) == root
    except StateError:
        return False


class WorldState:
    """Accounts and storage in memory, with the tree kept up to date on every write."""

    def __init__(self, suite: Suite | str) -> None:
        self.suite = get_suite(suite)
        self._values: dict[bytes, bytes] = {}
        self._tree = None
        self._journal: list[tuple[bytes, bytes | None]] = []
        self._dirty: dict[bytes, bytes | None] = {}

    # -- raw keys ----------------------------------------------------------------------------
    def get(self, key: bytes) -> bytes | None:
        return self._values.get(key)

    def set(self, key: bytes, value: bytes | None) -> None:
        """Write ``value`` under ``key`` (None deletes), journalled."""
        old = self._values.get(key)
        if old == value:
            return
        if value is not None and (not isinstance(value, bytes) or len(value) > MAX_VALUE):
            raise StateError(f"a state value is bytes of at most {MAX_VALUE}, got {value!r:.40}", value)
        self._journal.append((key, old))
        self._write(key, value)

    def _write(self, key: bytes, value: bytes | None) -> None:
        if value is None:
            del self._values[key]
        else:
            self._values[key] = value
        self._dirty[key] = value   # the tree catches up when a root or proof is asked for

    def _flush(self) -> None:
        """Bring the tree up to date: each key written since the last root is hashed in once,
        however often it changed (a sender's account changes 3-4 times per transaction)."""
        suite, tree = self.suite, self._tree
        for key, value in self._dirty.items():
            path = suite.hash(key)
            if value is None:
                tree = smt.delete(suite, tree, path)
            else:
                tree = smt.insert(suite, tree, smt.Leaf(suite, path, suite.hash(value)))
        self._tree = tree
        self._dirty.clear()

    def load(self, items: Iterable[tuple[bytes, bytes]]) -> None:
        """Fill an empty state at once (a store reopening): one tree build, no journal."""
        if self._values:
            raise StateError("load() fills an empty state only", self)
        self._values = dict(items)
        self._dirty.clear()
        self._tree = smt.build(self.suite, (smt.Leaf(self.suite, self.suite.hash(k), self.suite.hash(v))
                                            for k, v in self._values.items()))

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        return iter(sorted(self._values.items()))

    def __len__(self) -> int:
        return len(self._values)

    @property
    def state_root(self) -> bytes:
        if self._dirty:
            self._flush()
        return smt._hash(self._tree)

    def get_proof(self, key: bytes) -> StateProof:
        """Proof of ``key``'s value, or of its absence, against :attr:`state_root`."""
        if self._dirty:
            self._flush()
        return smt.prove(self._tree, self.suite.hash(key))

    # -- accounts, storage, code ---------------------------------------------------------------
    def account(self, address: AccountAddress) -> Account:
        raw = self._values.get(account_key(address))
        return EMPTY_ACCOUNT if raw is None else Account.from_bytes(raw)

    def set_account(self, address: AccountAddress, account: Account) -> None:
        self.set(account_key(address), None if account.is_empty else account.to_bytes())

    def balance(self, address: AccountAddress) -> int:
        return self.account(address).balance

    def add_balance(self, address: AccountAddress, amount: int) -> None:
        account = self.account(address)
        if account.balance + amount < 0:
            raise StateError(f"{address} holds {account.balance}, cannot take {-amount}", address)
        self.set_account(address, Account(account.nonce, account.balance + amount, account.code_hash))

    def storage_get(self, contract: AccountAddress, key: bytes) -> bytes | None:
        return self._values.get(storage_key(contract, key))

    def storage_set(self, contract: AccountAddress, key: bytes, value: bytes | None) -> None:
        self.set(storage_key(contract, key), value)

    def code_of(self, address: AccountAddress) -> bytes | None:
        code_hash = self.account(address).code_hash
        return self._values.get(code_key(code_hash)) if code_hash else None

    def put_code(self, code: bytes) -> bytes:
        code_hash = self.suite.hash(code)
        self.set(code_key(code_hash), code)
        return code_hash

    # -- journal -------------------------------------------------------------------------------
    def snapshot(self) -> int:
        return len(self._journal)

    def revert_to(self, snapshot: int) -> None:
        if not 0 <= snapshot <= len(self._journal):
            raise StateError(f"no snapshot {snapshot} (journal has {len(self._journal)} entries)", snapshot)
        while len(self._journal) > snapshot:
            key, old = self._journal.pop()
            self._write(key, old)

    def take_undo(self, since: int, prev_root: bytes) -> StateUndo:
        """The undo record of the journal from ``since`` on (first previous value per key); the
        journal is then cut back to ``since``, the changes staying in the state."""
        first: dict[bytes, bytes | None] = {}
        for key, old in self._journal[since:]:
            first.setdefault(key, old)
        del self._journal[since:]
        entries = tuple(UndoEntry(k, 0, b"") if v is None else UndoEntry(k, 1, v) for k, v in sorted(first.items()))
        return StateUndo(prev_root, self.state_root, entries)

    def writes_of(self, undo: StateUndo) -> tuple[tuple[bytes, bytes | None], ...]:
        """The value (None: absent) each key of ``undo`` has now: what the block wrote, kept to
        write it again with :meth:`apply_writes` once the block is undone (a verified proposal)."""
        return tuple((entry.key, self._values.get(entry.key)) for entry in undo.entries)

    def apply_writes(self, undo: StateUndo, writes) -> None:
        """Write a block's ``writes`` (:meth:`writes_of`) again on the state it started from:
        refused unless the state root is ``undo.prev_root``; the root reached must be
        ``undo.post_root``, else the state is put back and ``UndoError`` raised."""
        if self.state_root != undo.prev_root:
            raise UndoError(f"the state root is {self.state_root.hex()[:16]}..., but the block's writes start "
                            f"from {undo.prev_root.hex()[:16]}...", undo)
        for key, value in writes:
            if value is not None:
                self._write(key, value)
            elif key in self._values:
                self._write(key, None)
        reached = self.state_root
        if reached != undo.post_root:
            self.apply_undo(StateUndo(undo.prev_root, reached, undo.entries))
            raise UndoError(f"the block's writes lead to {reached.hex()[:16]}..., not the recorded "
                            f"{undo.post_root.hex()[:16]}...: they belong to another block", undo)

    def apply_undo(self, undo: StateUndo) -> None:
        """Put back every value ``undo`` recorded; refuse unless the state is the one the block
        left (its root is ``undo.post_root``), and check the root reached."""
        if self.state_root != undo.post_root:
            raise UndoError(f"the state root is {self.state_root.hex()[:16]}..., but the undo data is of a block "
                            f"that left {undo.post_root.hex()[:16]}...: undo the later blocks first", undo)
        for entry in undo.entries:
            if entry.existed:
                self._write(entry.key, entry.value)
            elif entry.key in self._values:
                self._write(entry.key, None)
        if self.state_root != undo.prev_root:
            raise UndoError(f"after undo the state root is {self.state_root.hex()[:16]}..., not the recorded "
                            f"{undo.prev_root.hex()[:16]}...: the undo data belongs to another state", undo)
