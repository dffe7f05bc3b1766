"""The deterministic accounts a node holds (Ganache's "10 accounts").

Every regtest and lab genesis block pre-funds ``Params.funded_accounts`` addresses whose keys
come from ``Params.account_seed`` (:func:`labchain.block.account_key`). Every node of a
network holds all of them, like every Ganache instance started from the same mnemonic, so a
notebook can spend from any account on any node. ``--node-index I`` only chooses which
account receives that node's mining rewards (account ``I mod 10``), so students can tell
whose blocks won.

Simplification: the keys are public (the seed is in ``params.py``). Never use them for value.
"""
from __future__ import annotations

from labchain.block import account_key
from labchain.crypto import Address, PrivateKey
from labchain.core.errors import AddressError, WalletError
from labchain.core.params import Params


class Accounts:
    """The node's keys, by address and by index."""

    def __init__(self, params: Params, node_index: int = 0) -> None:
        self.keys: list[PrivateKey] = [account_key(params, i) for i in range(params.funded_accounts)]
        self.by_address: dict[str, PrivateKey] = {str(k.address): k for k in self.keys}
        if self.keys:
            self.reward_address: Address = self.keys[node_index % len(self.keys)].address
        else:  # main-like networks fund nothing: reward a per-node throwaway key
            self.reward_address = params.crypto.key_from_seed("labchain node rewards", node_index).address

    @property
    def addresses(self) -> list[Address]:
        return [k.address for k in self.keys]

    def key_for(self, who: str | int) -> PrivateKey:
        """The key of account ``who``: one of this node's addresses, or an account index."""
        if type(who) is int:
            if 0 <= who < len(self.keys):
                return self.keys[who]
            raise WalletError(f"account index {who} does not exist; this node holds accounts "
                              f"0..{len(self.keys) - 1} (see listaccounts)", who)
        key = self.by_address.get(who) if isinstance(who, str) else None
        if key is None:
            Address.from_string(who)  # a malformed address gets its precise AddressError
            raise AddressError(f"{who} is not one of this node's accounts, so the node cannot "
                               "sign for it; use an address from listaccounts", who)
        return key
