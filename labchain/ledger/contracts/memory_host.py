"""An in-memory :class:`~labchain.ledger.contracts.records.Host` for tests, benchmarks and
notebooks (no chain, no blocks): balances, contract code and storage in dicts, with an undo
journal behind :meth:`snapshot`/:meth:`revert_to`.

Simplifications versus the account ledger: no nonces, signatures or gas payment; contract
addresses are ``sha256(creator || n)[:20]`` with a counter per creator (Ethereum: keccak of the
RLP of creator and nonce).
"""
from __future__ import annotations

import hashlib
from typing import Any

from labchain.core.errors import LabchainError


class InsufficientFunds(LabchainError, ValueError):
    """A transfer of more than the sender holds."""


class MemoryHost:
    def __init__(self, balances: dict[bytes, int] | None = None) -> None:
        self.balances: dict[bytes, int] = dict(balances or {})
        self.codes: dict[bytes, Any] = {}
        self.store: dict[tuple[bytes, bytes], bytes] = {}
        self.creators: dict[bytes, bytes] = {}
        self._created: dict[bytes, int] = {}
        self._journal: list[tuple[str, Any, Any]] = []

    # -- Host -------------------------------------------------------------------------------
    def storage_get(self, contract: bytes, key: bytes) -> bytes | None:
        return self.store.get((contract, key))

    def storage_set(self, contract: bytes, key: bytes, value: bytes | None) -> None:
        k = (contract, key)
        self._journal.append(("store", k, self.store.get(k)))
        if value is None:
            self.store.pop(k, None)
        else:
            self.store[k] = bytes(value)

    def balance(self, address: bytes) -> int:
        return self.balances.get(address, 0)

    def transfer(self, src: bytes, dst: bytes, amount: int) -> None:
        have = self.balances.get(src, 0)
        if amount > have:
            raise InsufficientFunds(f"0x{src.hex()} has {have}, cannot send {amount}", src)
        self._set_balance(src, have - amount)
        self._set_balance(dst, self.balances.get(dst, 0) + amount)

    def code(self, address: bytes) -> Any:
        return self.codes.get(address)

    def create(self, creator: bytes, program: Any) -> bytes:
        n = self._created.get(creator, 0)
        self._journal.append(("created", creator, n))
        self._created[creator] = n + 1
        address = hashlib.sha256(creator + n.to_bytes(8, "big")).digest()[:20]
        self._journal.append(("code", address, self.codes.get(address)))
        self.codes[address] = program
        self.creators[address] = creator
        return address

    def snapshot(self) -> int:
        return len(self._journal)

    def revert_to(self, snapshot: int) -> None:
        while len(self._journal) > snapshot:
            kind, key, old = self._journal.pop()
            table = {"store": self.store, "balance": self.balances, "code": self.codes, "created": self._created}[kind]
            if old is None:
                table.pop(key, None)
            else:
                table[key] = old

    # -- helpers --------------------------------------------------------------------------------
    def _set_balance(self, address: bytes, value: int) -> None:
        self._journal.append(("balance", address, self.balances.get(address)))
        self.balances[address] = value

    def commit(self) -> None:
        """Forget the undo journal (a block was accepted)."""
        self._journal.clear()

    def state_digest(self) -> bytes:
        """SHA-256 over balances, code hashes and storage in sorted order (for determinism tests)."""
        h = hashlib.sha256()
        for a in sorted(self.balances):
            h.update(b"B" + a + self.balances[a].to_bytes(32, "big", signed=True))
        for a in sorted(self.codes):
            h.update(b"C" + a + self.codes[a].code_hash)
        for (c, k) in sorted(self.store):
            v = self.store[(c, k)]
            h.update(b"S" + len(c).to_bytes(2, "big") + c + len(k).to_bytes(4, "big") + k
                     + len(v).to_bytes(4, "big") + v)
        return h.digest()
