"""Build and sign account transactions for notebooks: the deterministic accounts of a chain.

``AccountWallet(params)`` holds the keys of the chain's pre-funded accounts (the same seed as
the UTXO model's, so account ``i`` is the same key in both models) and signs transfers,
deployments and contract calls; ``.hex(tx)`` is what the node's ``sendtransaction`` takes.
The wallet does not track nonces: ask the node (``getnonce``) or pass them in.

Simplification: the keys are public (the seed is in the chain config). Never use them for value.
"""
from __future__ import annotations

from typing import Sequence

from labchain.core.params import Params
from labchain.ledger.account.tx import TX_GAS, AccountAddress, AccountTx, CallData, DeployData, sign_tx


def encode_args(values: Sequence) -> tuple[bytes, ...]:
    """Contract call arguments as the VM's canonical values."""
    from labchain.ledger.contracts import encode_value

    return tuple(encode_value(v) for v in values)


class AccountWallet:
    """Keys of the ``params.funded_accounts`` deterministic accounts of a chain."""

    def __init__(self, params: Params, count: int | None = None) -> None:
        self.params = params
        self.suite = params.crypto
        self.chain_id = params.name
        n = params.funded_accounts if count is None else count
        self.keys = [self.suite.key_from_seed(params.account_seed, i) for i in range(n)]
        self.addresses = [AccountAddress.of(self.suite, k.public_key.data) for k in self.keys]

    def address(self, i: int) -> AccountAddress:
        return self.addresses[i]

    def _sign(self, i: int, nonce: int, to, value: int, gas_limit: int, gas_price: int, data) -> AccountTx:
        return sign_tx(self.suite, self.keys[i].secret, chain_id=self.chain_id, nonce=nonce, to=to, value=value,
                       gas_limit=gas_limit, gas_price=gas_price, data=data)

    def transfer(self, i: int, to: AccountAddress | str, value: int, nonce: int, *, gas_price: int = 1,
                 gas_limit: int = TX_GAS) -> AccountTx:
        to = to if isinstance(to, AccountAddress) else AccountAddress.from_string(to, self.suite)
        return self._sign(i, nonce, to, value, gas_limit, gas_price, b"")

    def deploy(self, i: int, source: str, args: Sequence = (), nonce: int = 0, *, value: int = 0,
               gas_limit: int = 2_000_000, gas_price: int = 1) -> AccountTx:
        return self._sign(i, nonce, None, value, gas_limit, gas_price, DeployData(source, encode_args(args)))

    def call(self, i: int, contract: AccountAddress | str, function: str, args: Sequence = (), nonce: int = 0, *,
             value: int = 0, gas_limit: int = 300_000, gas_price: int = 1) -> AccountTx:
        contract = contract if isinstance(contract, AccountAddress) else AccountAddress.from_string(contract, self.suite)
        return self._sign(i, nonce, contract, value, gas_limit, gas_price, CallData(function, encode_args(args)))

    @staticmethod
    def hex(tx: AccountTx) -> str:
        return tx.to_bytes().hex()
