"""Proof of work: ``difficulty`` (compact bits, work, retarget) and ``miner`` (nonce search)."""
