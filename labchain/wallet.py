"""A wallet: private keys, coin selection, and signed payments with change.

Terminology
-----------
coin
    An unspent output the wallet's keys can spend (``labchain.chain.Coin``: outpoint, output,
    height, is_coinbase). The wallet keeps no state of its own: it asks a *UTXO source* (a
    ``Chain``, or anything with ``utxos(address)``) which coins its addresses hold.
coin selection
    Choosing which coins pay for ``amount + fee``. What is left over goes back to the wallet
    as a *change* output, because an output is always spent whole.
spendable
    A coin is spendable when it is not already spent by a transaction waiting in the mempool
    (the caller passes those outpoints as ``exclude``) and, if it comes from a coinbase, it
    has matured (``Params.coinbase_maturity`` blocks; genesis outputs are spendable at once).

Coin selection strategy (documented because students compare it with Bitcoin Core's)
-----------------------------------------------------------------------------------
1. **Exact match**: a single coin worth exactly ``amount + fee`` is used alone: no change.
2. **Smallest sufficient coin**: otherwise the smallest single coin that covers the target,
   which leaves large coins intact and needs one signature.
3. **Largest first**: otherwise coins are added from the largest down until the target is
   covered, which keeps the number of inputs (and signatures to check) small.
Ties are broken by outpoint, so the same coins always give the same transaction. This is a
simplified form of Bitcoin Core's old "knapsack" selection; Core now runs branch-and-bound
(to avoid change) and keeps the cheapest of several strategies by a waste metric.

Crypto suite: a wallet's keys are of one suite (a P-256 ``PrivateKey`` or a ``KeyPair`` of
``labchain.crypto.suite``); :meth:`Wallet.from_seed` takes the suite (``params.crypto``; the
default is p256-sha256, named explicitly). :meth:`Wallet.pay` refuses, with a sentence naming
both suites, a recipient or change address of another suite and a source chain of another one.

Simplifications versus real wallets: fees are given explicitly (no fee-rate estimation), keys
are not stored or encrypted, change goes to one fixed address (no fresh change addresses).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Collection, Iterable, Protocol, Sequence

from labchain.crypto import Address, PrivateKey
from labchain.crypto.suite import DEFAULT_SUITE, Suite, get_suite
from labchain.core.errors import InsufficientFundsError, WalletError
from labchain.ledger.utxo.tx import OutPoint, Transaction, TxIn, TxOut, check_transaction_syntax


class UtxoSource(Protocol):
    """What the wallet needs from a chain: ``labchain.chain.Chain`` provides it."""

    def utxos(self, address: Address) -> list[Any]: ...


@dataclass(frozen=True, slots=True)
class Selection:
    """The coins chosen for a payment and the change they leave."""

    coins: tuple[Any, ...]
    change: int


def select_coins(coins: Iterable[Any], target: int) -> Selection:
    """Pick coins worth at least ``target`` (see the module docstring for the strategy).

    Raises :class:`InsufficientFundsError` when all of them together are not enough.
    """
    ordered = sorted(coins, key=lambda c: (c.output.amount, c.outpoint.txid, c.outpoint.index))
    total = sum(c.output.amount for c in ordered)
    if total < target:
        raise InsufficientFundsError(
            f"the spendable coins add up to {total} base units, {target - total} short of "
            f"the {target} needed", total)
    for coin in ordered:  # ascending: the first one that covers is the smallest sufficient
        if coin.output.amount >= target:
            return Selection((coin,), coin.output.amount - target)
    chosen, gathered = [], 0
    for coin in reversed(ordered):
        chosen.append(coin)
        gathered += coin.output.amount
        if gathered >= target:
            break
    return Selection(tuple(chosen), gathered - target)


class Wallet:
    """Keys plus the logic to pay from them. Build one with :meth:`from_seed` or :meth:`from_keys`."""

    def __init__(self, keys: Sequence[PrivateKey]) -> None:
        if not keys:
            raise WalletError("a wallet needs at least one key")
        self.keys: tuple[PrivateKey, ...] = tuple(keys)
        suites = {key.suite.name for key in self.keys}
        if len(suites) > 1:
            raise WalletError(f"a wallet holds keys of one crypto suite, got {', '.join(sorted(suites))}",
                              sorted(suites))
        self.suite: Suite = self.keys[0].suite
        self._key_of = {key.address: key for key in self.keys}

    @classmethod
    def from_seed(cls, phrase: str, count: int = 10, suite: Suite | str = DEFAULT_SUITE) -> Wallet:
        """``count`` deterministic keys of a seed phrase on ``suite`` (pass ``params.crypto``):
        the same phrase and suite, the same wallet."""
        suite = get_suite(suite)
        return cls([suite.key_from_seed(phrase, i) for i in range(count)])

    @classmethod
    def from_keys(cls, keys: Iterable[PrivateKey]) -> Wallet:
        return cls(list(keys))

    @property
    def addresses(self) -> list[Address]:
        return [key.address for key in self.keys]

    def __repr__(self) -> str:
        return f"Wallet({len(self.keys)} keys, first {self.addresses[0]})"

    def key_for(self, address: Address) -> PrivateKey:
        try:
            return self._key_of[address]
        except KeyError:
            raise WalletError(f"this wallet holds no key for address {address}", address) from None

    # -- coins ------------------------------------------------------------------------------
    def coins(self, source: UtxoSource, exclude: Collection[OutPoint] = ()) -> list[Any]:
        """Every unspent coin of the wallet's addresses, minus the outpoints in ``exclude``."""
        excluded = set(exclude)
        return [coin for address in self.addresses for coin in source.utxos(address)
                if coin.outpoint not in excluded]

    def spendable_coins(self, source: UtxoSource, exclude: Collection[OutPoint] = ()) -> list[Any]:
        """:meth:`coins` without immature coinbase outputs (needs ``source.params`` and
        ``source.height``, as a ``Chain`` has; without them every coin counts as mature)."""
        coins = self.coins(source, exclude)
        params, height = getattr(source, "params", None), getattr(source, "height", None)
        if params is None or height is None:
            return coins
        return [c for c in coins if c.is_mature(height + 1, params)]

    def balance(self, source: UtxoSource, exclude: Collection[OutPoint] = ()) -> int:
        return sum(c.output.amount for c in self.spendable_coins(source, exclude))

    # -- paying -----------------------------------------------------------------------------
    def pay(self, source: UtxoSource, to: Address | str, amount: int, fee: int, memo: bytes = b"",
            change_address: Address | str | None = None,
            exclude: Collection[OutPoint] = ()) -> Transaction:
        """A signed transaction paying ``amount`` to ``to`` and ``fee`` to the miner.

        The change (if any) goes to ``change_address``, by default the wallet's first
        address. ``exclude`` lists outpoints not to use (spent by mempool transactions).
        Raises :class:`InsufficientFundsError` (with the balance and what is missing) or
        :class:`WalletError` for a bad amount, fee or address.
        """
        params = getattr(source, "params", None)
        if params is not None and params.crypto.name != self.suite.name:
            raise WalletError(f"this wallet's keys are of the {self.suite.name} crypto suite, but the "
                              f"chain uses {params.crypto.name}: its coins cannot be spent there",
                              params.crypto.name)
        to = _address(to, "recipient", self.suite)
        change_to = (_address(change_address, "change address", self.suite) if change_address
                     else self.addresses[0])
        if type(amount) is not int or amount <= 0:
            raise WalletError(f"the amount must be a positive integer of base units, got {amount!r}", amount)
        if type(fee) is not int or fee < 0:
            raise WalletError(f"the fee must be a non-negative integer of base units, got {fee!r}", fee)
        if not isinstance(memo, bytes):
            raise WalletError(f"the memo must be bytes, got {type(memo).__name__}", memo)
        coins = self.spendable_coins(source, exclude)
        try:
            selection = select_coins(coins, amount + fee)
        except InsufficientFundsError as exc:
            held = sum(c.output.amount for c in self.coins(source, exclude))
            unavailable = held - exc.obj
            note = (f" ({unavailable} more are immature coinbase outputs)" if unavailable else "")
            raise InsufficientFundsError(
                f"cannot pay {amount} + fee {fee}: {exc}{note}", exc.obj) from None
        outputs = [TxOut(amount, to)]
        if selection.change:
            outputs.append(TxOut(selection.change, change_to))
        unsigned = Transaction(1, tuple(TxIn(c.outpoint) for c in selection.coins), tuple(outputs), memo)
        tx = unsigned.sign([self.key_for(c.output.address) for c in selection.coins], self.suite)
        if params is not None:
            check_transaction_syntax(tx, params)  # e.g. a memo that is too long
        return tx


def spent_by(transactions: Iterable[Transaction]) -> set[OutPoint]:
    """The outpoints some of ``transactions`` spend: pass ``spent_by(mempool.transactions())``
    as ``exclude`` so a second payment does not reuse coins a pending one already spends."""
    return {txin.prevout for tx in transactions for txin in tx.inputs}


def _address(value: Address | str, what: str, suite: Suite) -> Address:
    if isinstance(value, (Address, str)):
        return Address.from_string(value).check_suite(suite)
    raise WalletError(f"the {what} must be an address, got {type(value).__name__}", value)
