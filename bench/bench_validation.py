"""Block validation speed: a block of 2,000 one-in-one-out signed payments, versus OpenSSL.

Set-up (not timed): a network whose genesis block funds 2,000 accounts (a custom ``Params``
with ``funded_accounts=2000``), then 2,000 payments, one from each account, mined into one
block. Timed: ``Chain.add_block`` of that block, decoded afresh from bytes, on a fresh chain
holding only the genesis block: every syntax, context, UTXO and signature rule runs.

Printed per signature back-end (``labchain.crypto.VERIFY_BACKENDS``) and per number of
verification processes (``Chain(verify_workers=...)``): transactions per second and the
ratio to ``openssl speed ecdsap256`` verifications per second on one core, measured in the
same run (goal: >= 0.8x). A second table shows the bare verify rate of each back-end, to
tell cryptography time from the rest of validation, with public keys new to the process (as
in a block) and already decoded (``openssl speed`` reuses one prepared key).

``openssl speed`` counts CPU time, so single-process figures are per CPU-second too (they do
not depend on other work on the machine); multi-process figures are per wall second.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine_note, openssl_p256_verifies_per_second, table  # noqa: E402
from bench_suites import build_block, time_validation  # noqa: E402  (the same block shape and timing)

from labchain.crypto import p256 as crypto  # noqa: E402
from labchain.block import Block  # noqa: E402
from labchain.core.params import COIN, REGTEST  # noqa: E402

N_TX = 2_000
PARAMS = REGTEST.with_changes(name="bench-validation", funded_accounts=N_TX, account_balance=COIN,
                              account_seed="labchain validation benchmark")


def bare_verify_rates(raw: bytes, backend: str) -> tuple[float, float]:
    """Verifies per second of the block's signatures alone: keys new, then keys cached."""
    block = Block.from_bytes(raw)
    checks = [(tx.inputs[0].pubkey, tx.signature_hash(0), tx.inputs[0].signature) for tx in block.transactions[1:]]
    verify = crypto.VERIFY_BACKENDS[backend]
    crypto._openssl_public_key.cache_clear()
    rates = []
    for _ in range(2):  # the second pass finds every public key already decoded
        began = time.process_time()
        assert all(verify(*c) for c in checks)
        rates.append(len(checks) / (time.process_time() - began))
    return rates[0], rates[1]


def main() -> None:
    cores = os.cpu_count() or 1
    print(f"== Validation: block of {N_TX:,} one-in-one-out transactions ({machine_note()})")
    began = time.perf_counter()
    raw = build_block(PARAMS)
    print(f"set-up: {N_TX:,} funded accounts, payments signed and mined in {time.perf_counter() - began:.1f} s; "
          f"block is {len(raw):,} bytes")
    ceiling = openssl_p256_verifies_per_second(2)
    began = time.perf_counter()
    Block.from_bytes(raw)
    decode = time.perf_counter() - began
    rows, bare = [], []
    try:
        for backend in sorted(crypto.VERIFY_BACKENDS):
            crypto.set_verify_backend(backend)
            fresh, cached = bare_verify_rates(raw, backend)
            bare.append([backend, fresh, fresh / ceiling, cached, cached / ceiling])
            for workers in sorted({1, cores}):
                wall, cpu = time_validation(PARAMS, raw, workers)
                rate = N_TX / (cpu if workers == 1 else wall)
                rows.append([backend, workers, wall, cpu, rate, rate / ceiling])
    finally:
        crypto.set_verify_backend("openssl")
        shutdown = getattr(crypto, "shutdown_verify_pools", None)
        if shutdown:
            shutdown()
    print(f"openssl speed ecdsap256 (C, 1 core): {ceiling:,.0f} verifies/s; "
          f"decoding the block from bytes (not in the times below): {decode * 1000:.0f} ms")
    print(table(["verify backend", "processes", "wall s", "CPU s (main)", "tx/s", "x openssl verify/s"], rows))
    print("tx/s: one process per CPU-second (as openssl speed counts); several processes per wall second.")
    print()
    print(table(["verify backend", "bare verifies/s, new keys", "x openssl", "keys cached", "x openssl"], bare))
    best = max(rows, key=lambda r: r[4])
    print(f"goal: >= 0.8x openssl verify/s -> best {best[5]:.2f}x ({best[0]}, {best[1]} processes): "
          f"{'met' if best[5] >= 0.8 else 'not met'}")


if __name__ == "__main__":
    main()
