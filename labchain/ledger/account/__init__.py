"""The account ledger model (issue #11 section 1): accounts with balance and nonce, signed
transactions with gas, a world state under one sparse-Merkle state root with proofs,
receipts under a receipts root, block application with exact undo, a crash-safe SQLite store
and a transaction pool ordered by (sender, nonce) and fee.

Modules: ``tx`` (AccountAddress, AccountTx, CallData, DeployData, sign_tx, verify_tx),
``smt`` (the tree and StateProof), ``state`` (Account, WorldState, verify_proof),
``receipts``, ``block`` (BlockContext, apply_block, undo_block), ``store`` (AccountStore),
``pool`` (AccountPool), ``errors``. Decisions: docs/account-ledger.md.
"""
from labchain.ledger.account.block import (
    DEFAULT_BLOCK_GAS_LIMIT, BlockContext, BlockResult, LedgerHost, apply_block, apply_transaction, credit,
    read_call, undo_block,
)
from labchain.ledger.account.pool import AccountPool
from labchain.ledger.account.receipts import EventLog, Receipt, receipt_proof, receipts_root, verify_receipt
from labchain.ledger.account.smt import StateProof
from labchain.ledger.account.state import (
    Account, StateUndo, WorldState, account_key, code_key, storage_key, verify_proof,
)
from labchain.ledger.account.store import AccountStore
from labchain.ledger.account.tx import (
    TX_CREATE_GAS, TX_GAS, AccountAddress, AccountTx, CallData, DeployData, account_version, intrinsic_gas,
    sign_tx, verify_tx,
)

__all__ = [
    "Account", "AccountAddress", "AccountPool", "AccountStore", "AccountTx", "BlockContext", "BlockResult",
    "CallData", "DEFAULT_BLOCK_GAS_LIMIT", "DeployData", "EventLog", "LedgerHost", "Receipt", "StateProof",
    "StateUndo", "TX_CREATE_GAS", "TX_GAS", "WorldState", "account_key", "account_version", "apply_block",
    "apply_transaction", "code_key", "credit", "intrinsic_gas", "receipt_proof", "receipts_root",
    "read_call", "sign_tx", "storage_key", "undo_block", "verify_proof", "verify_receipt", "verify_tx",
]
