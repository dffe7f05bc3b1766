"""The lowest layer: errors (one root, LabchainError), canonical encoding, consensus parameters
and chain configuration. Nothing here imports another LabChain layer except the compact-target
codec of ``labchain.consensus.pow.difficulty`` that ``params`` uses (see docs/ARCHITECTURE.md)."""
