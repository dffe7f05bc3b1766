"""The account pool: transactions waiting for a block, by sender and nonce, mined by fee.

Terminology
-----------
pending
    A sender's transactions whose nonces follow the account's next nonce without a gap: they
    can go into the next block, in nonce order.
queued
    Transactions behind a nonce gap (nonce 7 while 5 is the next and 6 is missing): kept, but
    never offered to a block until the gap is filled (geth's "queued" pool). At most
    ``max_nonce_gap`` ahead of the account's nonce.
replacement
    A new transaction with the same (sender, nonce) as a pooled one replaces it only if its
    gas price is at least ``price_bump`` percent higher (geth's ``--txpool.pricebump``, 10 by
    default); otherwise ``ReplacementUnderpricedError``. That is how a user "speeds up" or
    "cancels" a stuck transaction.
block template
    :meth:`AccountPool.select`: the highest gas price first among the next pending
    transaction of every sender (a heap of senders' heads, as geth's miner orders them), never
    a sender's nonce before an earlier one, within the block gas limit.

Refusals, each its own error: wrong chain, bad signature, intrinsic gas, above the block gas
limit (all of :func:`~labchain.ledger.account.tx.check_tx_syntax`), already pooled
(``DuplicateTransactionError``), nonce already used (``NonceTooLowError``), nonce too far ahead
(``NonceGapError``), replacement underpriced, balance short of the sender's pooled costs
(``InsufficientBalanceError``), pool full (``PoolFullError``).

Simplifications versus geth: no eviction of cheap transactions when full (a full pool refuses),
no per-account slot limits, no pricing of queued versus pending space, no expiry by age.
"""
from __future__ import annotations

import heapq
from typing import Iterable

from labchain.crypto.suite import Suite, get_suite

from labchain.ledger.account.block import DEFAULT_BLOCK_GAS_LIMIT
from labchain.ledger.account.errors import (
    DuplicateTransactionError,
    InsufficientBalanceError,
    NonceGapError,
    NonceTooLowError,
    PoolFullError,
    ReplacementUnderpricedError,
)
from labchain.ledger.account.tx import AccountAddress, AccountTx, check_tx_syntax

DEFAULT_MAX_TXS = 5000        # geth: --txpool.globalslots 5120
DEFAULT_MAX_NONCE_GAP = 64    # geth: --txpool.accountqueue 64
DEFAULT_PRICE_BUMP = 10       # geth: --txpool.pricebump 10 (percent)


class AccountPool:
    """Pooled transactions over a ``state`` that answers ``account(address)`` (nonce, balance)."""

    def __init__(self, suite: Suite | str, chain_id: str, state, *, max_txs: int = DEFAULT_MAX_TXS,
                 max_nonce_gap: int = DEFAULT_MAX_NONCE_GAP, price_bump: int = DEFAULT_PRICE_BUMP,
                 max_gas: int = DEFAULT_BLOCK_GAS_LIMIT) -> None:
        self.suite = get_suite(suite)
        self.chain_id = chain_id
        self.state = state
        self.max_txs, self.max_nonce_gap, self.price_bump, self.max_gas = max_txs, max_nonce_gap, price_bump, max_gas
        self._by_sender: dict[AccountAddress, dict[int, AccountTx]] = {}
        self._by_id: dict[bytes, AccountTx] = {}
        self._seq: dict[bytes, int] = {}   # arrival order: ties of gas price go to the earlier one
        self._next_seq = 0

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, txid: bytes) -> bool:
        return txid in self._by_id

    def get(self, txid: bytes) -> AccountTx | None:
        return self._by_id.get(txid)

    def add(self, tx: AccountTx) -> bytes:
        """Pool ``tx`` (or replace the one with its sender and nonce); returns its txid."""
        check_tx_syntax(tx, self.suite, self.chain_id, self.max_gas)
        txid = tx.txid(self.suite)
        if txid in self._by_id:
            raise DuplicateTransactionError(f"{tx} ({txid.hex()[:8]}) is already in the pool", tx)
        sender = tx.sender(self.suite)
        account = self.state.account(sender)
        if tx.nonce < account.nonce:
            raise NonceTooLowError(f"{tx} from {sender} has nonce {tx.nonce}, but the account's next nonce is "
                                   f"{account.nonce}: nonce {tx.nonce} was already used", tx)
        if tx.nonce > account.nonce + self.max_nonce_gap:
            raise NonceGapError(f"{tx} from {sender} has nonce {tx.nonce}, more than {self.max_nonce_gap} ahead "
                                f"of the account's next nonce {account.nonce}: send the missing ones first", tx)
        own = self._by_sender.get(sender, {})
        old = own.get(tx.nonce)
        if old is not None:
            needed = -(-old.gas_price * (100 + self.price_bump) // 100)   # rounded up
            if tx.gas_price < needed or tx.gas_price <= old.gas_price:
                raise ReplacementUnderpricedError(
                    f"{tx} would replace pooled {old.short_id(self.suite)} (same sender and nonce {tx.nonce}) "
                    f"but pays gas price {tx.gas_price}; a replacement must pay at least {max(needed, old.gas_price + 1)} "
                    f"({self.price_bump}% more than {old.gas_price})", tx)
        elif len(self._by_id) >= self.max_txs:
            raise PoolFullError(f"the pool holds its maximum of {self.max_txs} transactions; {tx} is refused", tx)
        earlier = sum(t.max_cost for n, t in own.items() if n < tx.nonce)
        if earlier + tx.max_cost > account.balance:
            raise InsufficientBalanceError(
                f"{tx} from {sender} needs {tx.max_cost} (value + gas_limit * gas_price) on top of {earlier} "
                f"for its pooled transactions with lower nonces, but the account holds {account.balance}", tx)
        if old is not None:
            self._drop(old)
        self._by_sender.setdefault(sender, {})[tx.nonce] = tx
        self._by_id[txid] = tx
        self._seq[txid] = self._next_seq
        self._next_seq += 1
        return txid

    def _drop(self, tx: AccountTx) -> None:
        txid = tx.txid(self.suite)
        sender = tx.sender(self.suite)
        own = self._by_sender[sender]
        del own[tx.nonce]
        if not own:
            del self._by_sender[sender]
        del self._by_id[txid]
        del self._seq[txid]

    def pending(self, sender: AccountAddress) -> list[AccountTx]:
        """``sender``'s transactions that can be mined now, in nonce order."""
        own = self._by_sender.get(sender, {})
        nonce, out = self.state.account(sender).nonce, []
        while nonce in own:
            out.append(own[nonce])
            nonce += 1
        return out

    def queued(self, sender: AccountAddress) -> list[AccountTx]:
        """``sender``'s transactions held back behind a nonce gap."""
        ready = {t.nonce for t in self.pending(sender)}
        own = self._by_sender.get(sender, {})
        return [own[n] for n in sorted(own) if n not in ready and n >= self.state.account(sender).nonce]

    def select(self, gas_limit: int = DEFAULT_BLOCK_GAS_LIMIT, max_txs: int | None = None) -> list[AccountTx]:
        """A block template: by gas price, each sender's transactions in nonce order, gap-free,
        their gas limits adding up to at most ``gas_limit``."""
        heads = []
        queues = {}
        for sender in self._by_sender:
            queue = self.pending(sender)
            if queue:
                queues[sender] = queue
                heapq.heappush(heads, self._key(queue[0], sender, 0))
        chosen, gas = [], 0
        while heads and (max_txs is None or len(chosen) < max_txs):
            _, _, sender, i = heapq.heappop(heads)
            tx = queues[sender][i]
            if gas + tx.gas_limit > gas_limit:
                continue   # this sender's later nonces cannot come before it: the sender is done
            chosen.append(tx)
            gas += tx.gas_limit
            if i + 1 < len(queues[sender]):
                heapq.heappush(heads, self._key(queues[sender][i + 1], sender, i + 1))
        return chosen

    def _key(self, tx: AccountTx, sender: AccountAddress, i: int):
        return (-tx.gas_price, self._seq[tx.txid(self.suite)], sender, i)

    def remove_confirmed(self, senders: Iterable[AccountAddress] | None = None) -> int:
        """After a block: drop transactions whose nonce the state has used (of ``senders``, or all).
        Returns how many went."""
        dropped = 0
        for sender in list(self._by_sender if senders is None else senders):
            nonce = self.state.account(sender).nonce
            for tx in [t for n, t in self._by_sender.get(sender, {}).items() if n < nonce]:
                self._drop(tx)
                dropped += 1
        return dropped
