"""State-transition models of the ledger. ``utxo/`` is Bitcoin's unspent-output model (transactions
and their rules); an account model comes with a later issue (docs/ARCHITECTURE.md)."""
