"""Every error LabChain raises, in one hierarchy.

All errors derive from :class:`LabchainError`. Each carries the offending object in ``.obj``
(a transaction, a block, an address string...) when there is one, and its message is a
sentence a student can act on, e.g. ``input 0 spends output ab12..:1 which is already spent``.

Validation code never returns ``False``: it raises the most precise subclass below, so a
caller (a node, the mempool, a lab's test) can tell *which* rule failed by its type and show
*why* by its message.
"""
from __future__ import annotations

import os
from typing import Any


class LabchainError(Exception):
    """Root of every LabChain error."""

    def __init__(self, message: str, obj: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.obj = obj

    def __str__(self) -> str:
        """The message; in Chinese when ``LABCHAIN_LANG=zh-CN`` and ``labchain.i18n`` has it."""
        text = super().__str__()
        if os.environ.get("LABCHAIN_LANG", "").strip().lower() in ("", "en"):
            return text
        try:
            from labchain.i18n.messages import translate   # lazy: core imports nothing above it otherwise
            return translate(text)
        except Exception:      # a broken catalog must never hide the error being shown
            return text


# --- encoding and addresses -------------------------------------------------------------

class EncodingError(LabchainError, ValueError):
    """Bytes or JSON that do not decode to the record they claim to be."""


class AddressError(LabchainError, ValueError):
    """A malformed address: bad Base58, wrong length, wrong version byte or bad checksum."""


class InvalidKeyError(LabchainError, ValueError):
    """A malformed private or public key."""


class UnknownSuiteError(LabchainError, KeyError):
    """A crypto suite name (or address version byte) with no registered suite behind it."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return self.message


class ConfigError(LabchainError, ValueError):
    """A chain configuration file that cannot be used: names the key, the bad value and what is allowed."""


class UnknownNetworkError(LabchainError, KeyError):
    """A network name with no :class:`labchain.params.Params` behind it."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return self.message


# --- validation -------------------------------------------------------------------------

class ValidationError(LabchainError):
    """A transaction or block breaks a consensus rule."""


class TxValidationError(ValidationError):
    """A transaction breaks a rule; ``.obj`` is the transaction."""


class MalformedTransactionError(TxValidationError):
    """Structurally wrong: no inputs or outputs, memo too long, non-coinbase shaped as coinbase..."""


class UnknownInputError(TxValidationError):
    """An input spends an output that never existed (or is not known to this node yet)."""


class AlreadySpentError(TxValidationError):
    """An input spends an output that an earlier confirmed transaction already spent."""


class DuplicateInputError(TxValidationError):
    """The same output appears twice among one transaction's inputs."""


class DoubleSpendError(TxValidationError):
    """Two transactions in the same block (or the mempool) spend the same output."""


class BadSignatureError(TxValidationError):
    """A signature does not verify against the transaction's signature hash."""


class KeyMismatchError(TxValidationError):
    """An input's public key does not hash to the address of the output it spends."""


class AmountError(TxValidationError):
    """An amount that is zero, negative, or above the money supply limit (or overflows when summed)."""


class InsufficientInputsError(TxValidationError):
    """The outputs add up to more than the inputs."""


class ImmatureCoinbaseError(TxValidationError):
    """An input spends a coinbase output before it has matured."""


class DuplicateTransactionError(TxValidationError):
    """A transaction that is already in the chain or in the mempool."""


class LockTimeError(TxValidationError):
    """A transaction whose lock height is not yet reached."""


class BlockValidationError(ValidationError):
    """A block breaks a rule; ``.obj`` is the block (or its header)."""


class ProofOfWorkError(BlockValidationError):
    """The header hash is above its target."""


class BadTargetError(BlockValidationError):
    """The header's target (``bits``) is not the one the difficulty rules require."""


class MerkleRootError(BlockValidationError):
    """The header's Merkle root does not commit to the block's transactions."""


class TimestampError(BlockValidationError):
    """The block's time is not after the median of the last 11 blocks, or too far in the future."""


class FutureBlockError(TimestampError):
    """The block's time is too far ahead of this node's clock: it may become valid later, so a
    node must not remember it as invalid (Bitcoin Core: BLOCK_TIME_FUTURE)."""


class BlockSizeError(BlockValidationError):
    """The block is larger, or holds more transactions, than the parameters allow."""


class CoinbaseError(BlockValidationError):
    """The coinbase is missing, misplaced, duplicated, or claims more than reward + fees."""


class InvalidAncestorError(BlockValidationError):
    """The block builds on a block that is known to be invalid."""


# --- chain and store --------------------------------------------------------------------

class ChainError(LabchainError):
    """A query or operation on the chain that cannot be done."""


class UnknownBlockError(ChainError, LookupError):
    """No block with that hash or height."""


class UnknownTransactionError(ChainError, LookupError):
    """No transaction with that id in the chain."""


class StoreError(ChainError):
    """The on-disk store is unusable (wrong network, newer format, corrupted)."""


# --- wallet and mining ------------------------------------------------------------------

class WalletError(LabchainError):
    """A payment that cannot be built."""


class InsufficientFundsError(WalletError):
    """The wallet's spendable coins do not cover amount + fee."""
