"""Errors of the account ledger: one class per rule, each a sentence naming the rule broken.

They subclass the shared hierarchy of :mod:`labchain.core.errors` (transaction rules under
``TxValidationError``, state and store problems under ``ChainError``), so a node or a lab can
catch the family or the precise rule, and ``.obj`` carries the offending transaction, proof or
key.
"""
from __future__ import annotations

from labchain.core.errors import (
    BadSignatureError,
    ChainError,
    DuplicateTransactionError,
    MalformedTransactionError,
    StoreError,
    TxValidationError,
)

__all__ = [
    "AccountTxError", "BadSignatureError", "DuplicateTransactionError", "MalformedTransactionError",
    "WrongChainError", "NonceError", "NonceTooLowError", "NonceGapError", "InsufficientBalanceError",
    "IntrinsicGasError", "GasLimitError", "PoolError", "ReplacementUnderpricedError", "PoolFullError",
    "StateError", "UndoError", "StoreError", "BlockContextError",
]


class AccountTxError(TxValidationError):
    """An account-model transaction breaks a rule; ``.obj`` is the transaction."""


class WrongChainError(AccountTxError):
    """The transaction was signed for another chain id: replaying it here is refused."""


class NonceError(AccountTxError):
    """The transaction's nonce is not the sender's next one."""


class NonceTooLowError(NonceError):
    """The nonce was already used by a confirmed transaction of the sender."""


class NonceGapError(NonceError):
    """The nonce is ahead of the sender's next nonce: earlier transactions are missing."""


class InsufficientBalanceError(AccountTxError):
    """The sender cannot pay value + gas_limit * gas_price."""


class IntrinsicGasError(AccountTxError):
    """The gas limit does not cover the transaction's intrinsic gas (21000 + data + creation)."""


class GasLimitError(AccountTxError):
    """The gas limit is above what one block may use."""


class PoolError(AccountTxError):
    """The account pool refuses a transaction for a pool rule (not a consensus rule)."""


class ReplacementUnderpricedError(PoolError):
    """A transaction with the same (sender, nonce) is pooled and the new one does not pay enough more."""


class PoolFullError(PoolError):
    """The pool holds its maximum number of transactions and the new one pays no more than the cheapest."""


class StateError(ChainError):
    """A world-state operation that cannot be done (bad key, malformed proof, inconsistent undo)."""


class UndoError(StateError):
    """Undo data that does not fit the state it is applied to."""


class BlockContextError(StateError):
    """A block context that cannot be applied (wrong height, wrong chain id)."""
