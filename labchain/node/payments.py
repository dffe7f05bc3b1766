"""``sendtoaddress``: pay from one of the node's accounts, aware of the mempool.

The wallet (``labchain.wallet.Wallet``) selects coins from a *UTXO source*. A node's source is
the mempool's coin view (``Mempool.coins()``, the same view that validates new transactions):
the chain's UTXO set **plus** the outputs of transactions still in its mempool, **minus** the
outputs those transactions already spend. So two ``sendtoaddress`` calls in a row from the same
account work without mining in between: the second spends the first one's change, as
Bitcoin Core's wallet does with its own unconfirmed change.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from labchain.crypto import Address, PrivateKey
from labchain.ledger.utxo.tx import Transaction
from labchain.wallet import Wallet

if TYPE_CHECKING:
    from labchain.node.node import Node

DEFAULT_FEE = 1_000  # base units per transaction


def pay_from_account(node: Node, key: PrivateKey, to: Address, amount: int, memo: bytes = b"",
                     fee: int = DEFAULT_FEE) -> Transaction:
    """A signed transaction from ``key``'s account; change goes back to that account."""
    source = node.mempool.coins()  # chain coins + pool outputs, minus what the pool spends
    return Wallet([key]).pay(source, to=to, amount=amount, fee=fee, memo=memo, exclude=source.spent)
