"""State-transition models of the ledger: ``utxo/`` is Bitcoin's unspent-output model
(transactions and their rules); ``account/`` the account/world-state model (accounts, a sparse
Merkle state with proofs, receipts); ``contracts/`` the contract VM the account model runs. The
chain picks one through ``labchain.chain.ledger_model`` (``ledger.model`` in the chain config;
docs/ARCHITECTURE.md)."""
