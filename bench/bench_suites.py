"""Block validation on both crypto suites: the same block shape, the same run.

Set-up (not timed), once per suite: a network that differs from regtest only in its suite
(``p256-sha256`` or ``sm2-sm3``) and a genesis block funding 2,000 accounts, then 2,000
one-in-one-out payments, one from each account, mined into block 1. Timed: ``Chain.add_block``
of that block decoded afresh from bytes (no cached ids), on a fresh chain holding only the
genesis block: every syntax, context, UTXO and signature rule runs, with the suite's ids
(double SHA-256 or double SM3), key fingerprints and signatures. Public-key caches are
cleared before each run (a new block brings keys never seen before).

Printed per suite and per number of verification workers (``Chain(verify_workers=...)``;
P-256 uses processes, SM2 threads that release the GIL in libcrypto): transactions per
second, and the suite's ``openssl speed`` verifications per second on one core measured in
the same run (``ecdsap256`` / ``sm2``), so the two rows can be compared with their ceilings.
One process: per CPU-second (as ``openssl speed`` counts); several: per wall second.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine_note, openssl_p256_verifies_per_second, openssl_speed, table  # noqa: E402

from labchain.block import Block, account_key  # noqa: E402
from labchain.chain import Chain, Mempool  # noqa: E402
from labchain.consensus.pow.miner import Miner  # noqa: E402
from labchain.core.params import COIN, REGTEST  # noqa: E402
from labchain.crypto import p256, sm2, sm2_openssl  # noqa: E402
from labchain.ledger.utxo.tx import OutPoint, Transaction, TxIn, TxOut  # noqa: E402

N_TX = 2_000
SUITES = ("p256-sha256", "sm2-sm3")
RUNS = 2  # best of; the first multi-worker run also starts its pool


def params_of(suite: str):
    return REGTEST.with_changes(name=f"bench-{suite}", funded_accounts=N_TX, account_balance=COIN,
                                account_seed="labchain suite benchmark", suite=suite)


def build_block(params) -> bytes:
    """Block 1: one payment per funded account, each spending its genesis output (not timed)."""
    chain = Chain(params)
    try:
        mempool, suite = Mempool(chain), params.crypto
        genesis_coinbase = chain.get_block(0).transactions[0]
        receiver = suite.key_from_seed("suite benchmark receiver", 0).address
        for i in range(params.funded_accounts):
            tx = Transaction(1, (TxIn(OutPoint(genesis_coinbase.txid_in(suite), i)),),
                             (TxOut(COIN - 1_000, receiver),)).sign([account_key(params, i)])
            mempool.add(tx)
        block = Miner(params).mine(mempool, receiver, timestamp=params.genesis_timestamp + 1)
        assert len(block.transactions) == params.funded_accounts + 1
        return block.to_bytes()
    finally:
        chain.close()


def clear_key_caches() -> None:
    p256._openssl_public_key.cache_clear()
    sm2_openssl._public_key.cache_clear()
    sm2.decode_point.cache_clear()


def time_validation(params, raw: bytes, workers: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of add_block, best of RUNS."""
    best, best_cpu = float("inf"), float("inf")
    for _ in range(RUNS):
        chain = Chain(params, verify_workers=workers)
        clear_key_caches()
        try:
            block = Block.from_bytes(raw)
            began, cpu = time.perf_counter(), time.process_time()
            update = chain.add_block(block)
            best = min(best, time.perf_counter() - began)
            best_cpu = min(best_cpu, time.process_time() - cpu)
            assert update.status == "new_tip" and chain.height == 1
        finally:
            chain.close()
    return best, best_cpu


def openssl_sm2_verifies_per_second() -> float:
    for line in openssl_speed("-seconds", "2", "sm2"):
        if line.startswith("+F7:"):         # +F7:<n>:256:CurveSM2:<signs/s>:<verifies/s>
            return float(line.split(":")[5])
    raise RuntimeError("no sm2 figure in openssl speed output")


def main() -> None:
    cores = os.cpu_count() or 1
    print(f"== Block validation per crypto suite: {N_TX:,} one-in-one-out payments ({machine_note()})")
    ceilings = {"p256-sha256": openssl_p256_verifies_per_second(2), "sm2-sm3": openssl_sm2_verifies_per_second()}
    rows = []
    try:
        for name in SUITES:
            params = params_of(name)
            began = time.perf_counter()
            raw = build_block(params)
            print(f"{name}: set-up {time.perf_counter() - began:.1f} s, block {len(raw):,} bytes, "
                  f"openssl speed verify {ceilings[name]:,.0f}/s")
            for workers in sorted({1, cores}):
                wall, cpu = time_validation(params, raw, workers)
                rate = N_TX / (cpu if workers == 1 else wall)
                rows.append([name, workers, wall, cpu, rate, ceilings[name], rate / ceilings[name]])
    finally:
        p256.shutdown_verify_pools()
    print(table(["suite", "workers", "wall s", "CPU s (main)", "tx/s", "openssl verify/s", "x openssl"], rows))
    print("tx/s: one worker per CPU-second (as openssl speed counts); several workers per wall second.")
    one = {r[0]: r[4] for r in rows if r[1] == 1}
    print(f"sm2-sm3 / p256-sha256 tx/s on one worker: {one['sm2-sm3'] / one['p256-sha256']:.2f}x "
          f"(openssl verify ceilings: {ceilings['sm2-sm3'] / ceilings['p256-sha256']:.2f}x)")


if __name__ == "__main__":
    main()
