"""The UTXO ledger model: transactions (``tx``) and their syntax and signature rules."""
