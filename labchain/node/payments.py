"""``sendtoaddress``: pay from one of the node's accounts, aware of the mempool.

The wallet (``labchain.wallet.Wallet``) selects coins from a *UTXO source*. A node's source is
the chain's UTXO set **plus** the outputs of transactions still in its mempool, **minus** the
outputs those transactions already spend. So two ``sendtoaddress`` calls in a row from the same
account work without mining in between: the second spends the first one's change, as
Bitcoin Core's wallet does with its own unconfirmed change.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from labchain.chain import Coin
from labchain.crypto import Address, PrivateKey
from labchain.ledger.utxo.tx import OutPoint, Transaction
from labchain.wallet import Wallet, spent_by

if TYPE_CHECKING:
    from labchain.node.node import Node

DEFAULT_FEE = 1_000  # base units per transaction


class MempoolAwareCoins:
    """A UTXO source: confirmed coins and mempool outputs (see the module docstring)."""

    def __init__(self, node: Node) -> None:
        self.chain = node.chain
        self.params = node.chain.params
        self.height = node.chain.height
        self.pending = node.mempool.transactions()
        self.spent = spent_by(self.pending)

    def utxos(self, address: Address) -> list[Coin]:
        coins = list(self.chain.utxos(address))
        for tx in self.pending:
            for i, out in enumerate(tx.outputs):
                if out.address == address:
                    coins.append(Coin(OutPoint(tx.txid_in(self.chain.suite), i), out, self.height + 1, False))
        return coins


def pay_from_account(node: Node, key: PrivateKey, to: Address, amount: int, memo: bytes = b"",
                     fee: int = DEFAULT_FEE) -> Transaction:
    """A signed transaction from ``key``'s account; change goes back to that account."""
    source = MempoolAwareCoins(node)
    return Wallet([key]).pay(source, to=to, amount=amount, fee=fee, memo=memo, exclude=source.spent)
