"""Readers on other threads during reorganisations see a real tip and a whole mempool.

A reorganisation moves the tip block by block (down to the fork point, then up the new
branch) and a mempool update after it empties the pool and refills it; before the fix,
``Chain.tip_hash``/``height``/``tip_header`` and ``len(mempool)``/``txid in mempool`` read
those half-done states without the chain's lock.
"""
from __future__ import annotations

import sys
import threading

from labchain.chain import Mempool

REORGS = 40


def test_a_reader_during_repeated_reorganisations_never_sees_a_state_between_two_tips(kit, chain):
    kit.extend(chain, 2)                                   # the fork point: height 2
    short = kit.extend(chain, 4)                           # tip at height 6
    long = kit.extend(chain, 5, parent=chain.main_chain_hashes()[2], to=kit.address(1))  # height 7
    assert chain.tip_hash == kit.hash(long[-1])
    mempool = Mempool(chain)
    txids = [mempool.add(kit.pay(chain, account, kit.address(9), 1_000, fee=100)) for account in range(3, 8)]
    tips = {kit.hash(short[-1]): 6, kit.hash(long[-1]): 7}
    seen_wrong: list[str] = []
    done = threading.Event()

    def reorganise() -> None:
        try:
            for _ in range(REORGS):
                mempool.update(chain.invalidate_block(kit.hash(long[0])))   # to the short branch
                mempool.update(chain.reconsider_block(kit.hash(long[0])))   # back to the long one
        finally:
            done.set()

    def read() -> None:
        while not done.is_set():
            tip, height, header = chain.tip_hash, chain.height, chain.tip_header
            if tip not in tips:
                seen_wrong.append(f"tip_hash {tip.hex()[:12]} is no branch's tip")
            if height not in tips.values():
                seen_wrong.append(f"height {height}")
            if kit.hash(header) not in tips:
                seen_wrong.append(f"tip_header of {kit.hash(header).hex()[:12]}")
            if len(mempool) != len(txids) or txids[-1] not in mempool or mempool.get(txids[0]) is None:
                seen_wrong.append("a mempool missing transactions")

    def read_pairs() -> None:
        while not done.is_set():
            with chain.lock:  # a caller that needs two reads to agree holds the lock around them
                if tips.get(chain.tip_hash) != chain.height:
                    seen_wrong.append("tip hash and height disagree")

    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: every half-done state shows
    try:
        readers = [threading.Thread(target=read), threading.Thread(target=read_pairs)]
        for t in readers:
            t.start()
        reorganise()
        for t in readers:
            t.join(60)
    finally:
        sys.setswitchinterval(old_interval)
    assert chain.tip_hash == kit.hash(long[-1]) and len(mempool) == len(txids)
    assert not seen_wrong, f"{len(seen_wrong)} half-done reads, e.g. {sorted(set(seen_wrong))[:5]}"
