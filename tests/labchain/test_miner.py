"""The miner: nonce search (one and several processes), timestamp roll-over, stopping, mining."""
import multiprocessing
import threading

import pytest

from labchain.block import BlockHeader, check_block_syntax, target_to_bits
from labchain.chain import Chain, Mempool
from labchain.crypto import PrivateKey
from labchain.consensus.pow.miner import NONCE_SPACE, Miner, nonce_at, search_nonces
from labchain.core.params import LAB, REGTEST

HARD = target_to_bits(1 << 244)       # 1 in 4096 hashes wins: quick but not trivial
IMPOSSIBLE = target_to_bits(1)        # never found: for stop tests
MINER_KEY = PrivateKey.from_seed("miner tests", 0)


def header(bits=HARD, nonce=0, timestamp=1_767_225_700, root=b"\x42" * 32):
    return BlockHeader(1, b"\x01" * 32, root, timestamp, bits, nonce)


def first_winning_nonce(h: BlockHeader, start_nonce: int = 0) -> int:
    """The first winner in the miner's documented search order (nonce halves swapped)."""
    position = nonce_at(start_nonce)
    while not h.with_nonce(nonce_at(position)).meets_target():
        position += 1
    return nonce_at(position)


def test_search_order_visits_every_nonce_once():
    assert [nonce_at(i) for i in (0, 1, 2, 0xFFFF, 0x10000)] == [0, 0x10000, 0x20000, 0xFFFF0000, 1]
    assert all(nonce_at(nonce_at(n)) == n for n in (0, 1, 0x12345678, NONCE_SPACE - 1))
    assert nonce_at(NONCE_SPACE - 1) == NONCE_SPACE - 1


def test_one_worker_finds_the_first_winning_nonce():
    miner = Miner(LAB)
    h = header()
    solved = miner.solve(h)
    assert solved.meets_target()
    assert solved.nonce == first_winning_nonce(h)
    assert solved.with_nonce(0) == h.with_nonce(0)  # only the nonce changed
    assert miner.last_hashes == nonce_at(solved.nonce) + 1
    assert miner.last_hashrate > 0


def test_search_starts_at_the_header_nonce():
    h = header()
    after_first = nonce_at(nonce_at(first_winning_nonce(h)) + 1)
    second = Miner(LAB).solve(h.with_nonce(after_first))
    assert second.nonce == first_winning_nonce(h, after_first) != first_winning_nonce(h)


@pytest.mark.parametrize("start,end", [(10, 1000), (65_530, 65_540), (3 << 16, (3 << 16) + 1)])
def test_search_nonces_reports_range_exhaustion(start, end):
    h = header(bits=IMPOSSIBLE)
    nonce, tried = search_nonces(h.to_bytes()[:76], h.target.to_bytes(32, "big"), start, end)
    assert nonce is None and tried == end - start


def test_search_nonces_finds_the_first_winner_across_a_midstate_boundary():
    h = header(bits=target_to_bits(1 << 250))  # 1 in 64 wins
    prefix, target = h.to_bytes()[:76], h.target.to_bytes(32, "big")
    winners = [i for i in range(65_000, 66_000) if h.with_nonce(nonce_at(i)).meets_target()]
    start = max(i for i in winners if i < 65_536) + 1   # only losers from here to the boundary
    first = min(i for i in winners if i >= start)
    assert first >= 65_536
    assert search_nonces(prefix, target, start, 66_000) == (nonce_at(first), first - start + 1)


def test_timestamp_moves_on_when_the_nonces_run_out():
    last_three = [nonce_at(i) for i in range(NONCE_SPACE - 3, NONCE_SPACE)]
    root = next(r for r in (bytes([i]) * 32 for i in range(256))
                if not any(header(root=r).with_nonce(n).meets_target() for n in last_three))
    h = header(root=root, nonce=last_three[0])
    solved = Miner(LAB).solve(h)
    assert solved.timestamp == h.timestamp + 1
    assert solved.meets_target()
    assert solved.nonce == first_winning_nonce(h.with_nonce(0, h.timestamp + 1))


def test_several_processes_find_a_valid_nonce_and_count_hashes():
    miner = Miner(LAB)
    h = header(bits=target_to_bits(1 << 240))
    solved = miner.solve(h, workers=2)
    assert solved.meets_target() and solved.with_nonce(0) == h.with_nonce(0)
    assert miner.last_hashes >= 1
    assert not multiprocessing.active_children()


def test_a_worker_that_never_reports_cannot_hang_the_miner(monkeypatch):
    """CI once hung here for 10 minutes: one forked worker of a 2-worker search stayed alive
    without reporting, and the parent waited for its report forever."""
    import time as _time

    from labchain.consensus.pow import miner as miner_module

    real = miner_module._worker

    def worker(prefix, target, start, end, found, results, digest="sha256"):
        if start == 0:
            return real(prefix, target, start, end, found, results, digest)
        _time.sleep(3600)    # stuck: alive, silent

    monkeypatch.setattr(miner_module, "_worker", worker)
    monkeypatch.setattr(miner_module, "STRAGGLER_SECONDS", 0.5)
    solved = Miner(LAB).solve(header(bits=target_to_bits(1 << 240)), workers=2)
    assert solved.meets_target()
    assert not multiprocessing.active_children()      # the stuck worker was terminated


@pytest.mark.parametrize("workers", [1, 2])
def test_stop_from_another_thread_returns_none_and_leaves_no_process(workers):
    miner, stop, result = Miner(LAB), threading.Event(), []
    thread = threading.Thread(target=lambda: result.append(miner.solve(header(IMPOSSIBLE), workers, stop)))
    thread.start()
    threading.Timer(0.3, stop.set).start()
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert result == [None]
    assert miner.last_hashes > 0
    assert not multiprocessing.active_children()


def test_already_set_stop_returns_at_once():
    stop = threading.Event()
    stop.set()
    miner = Miner(LAB)
    assert miner.solve(header(IMPOSSIBLE), stop=stop) is None
    assert miner.last_hashes == 0


def test_workers_must_be_positive():
    with pytest.raises(ValueError, match="workers must be at least 1"):
        Miner(LAB).solve(header(), workers=0)


def test_mined_blocks_extend_a_real_chain():
    chain = Chain(REGTEST)
    try:
        mempool, miner = Mempool(chain), Miner(REGTEST)
        for height in (1, 2, 3):
            block = miner.mine(mempool, MINER_KEY.address, timestamp=REGTEST.genesis_timestamp + height)
            check_block_syntax(block, REGTEST)
            update = chain.add_block(block)
            assert update.status == "new_tip" and chain.height == height and chain.tip_hash == block.hash
        coinbase = chain.get_block(3).transactions[0]
        assert coinbase.outputs[0].address == MINER_KEY.address
        assert coinbase.outputs[0].amount == REGTEST.block_reward(3)
    finally:
        chain.close()


def test_mined_block_includes_mempool_transactions_and_their_fees():
    from labchain.block import account_key
    from labchain.wallet import Wallet

    chain = Chain(REGTEST)
    try:
        mempool, miner = Mempool(chain), Miner(REGTEST)
        payer = Wallet.from_keys([account_key(REGTEST, 0)])
        tx = payer.pay(chain, MINER_KEY.address, 10_000, fee=1_234)
        mempool.add(tx)
        block = miner.mine(mempool, MINER_KEY.address, workers=2,
                           timestamp=REGTEST.genesis_timestamp + 1)
        assert [t.txid for t in block.transactions[1:]] == [tx.txid]
        assert block.transactions[0].total_out == REGTEST.block_reward(1) + 1_234
        mempool.update(chain.add_block(block))
        assert len(mempool) == 0 and chain.balance(MINER_KEY.address) == 10_000 + REGTEST.block_reward(1) + 1_234
    finally:
        chain.close()


SM_LAB = LAB.with_changes(name="lab-sm", suite="sm2-sm3")


def test_on_an_sm_chain_the_miner_solves_with_the_sm3_block_hash():
    from labchain.crypto import get_suite

    sm = get_suite("sm2-sm3")
    h = header()
    solved = Miner(SM_LAB).solve(h)
    assert solved.meets_target(sm) and solved.nonce == _first_winner_in(h, sm)
    assert solved.nonce != first_winning_nonce(h)       # SHA-256's first winner is another nonce
    two = Miner(SM_LAB).solve(header(bits=target_to_bits(1 << 240)), workers=2)
    assert two.meets_target(sm) and not multiprocessing.active_children()


def test_a_suite_without_a_hashlib_digest_is_mined_through_its_own_hash256():
    import hashlib

    from labchain.crypto import get_suite

    base = type(get_suite("p256-sha256"))
    sha3 = type("Sha3Ids", (base,), {"name": "sha3-mining-test", "hash256": lambda self, d: hashlib.sha3_256(
        hashlib.sha3_256(d).digest()).digest()})()
    h = header(bits=target_to_bits(1 << 250))
    solved = Miner(LAB.with_changes(suite=sha3)).solve(h)
    assert solved.meets_target(sha3) and solved.nonce == _first_winner_in(h, sha3)


def _first_winner_in(h: BlockHeader, suite) -> int:
    position = 0
    while not h.with_nonce(nonce_at(position)).meets_target(suite):
        position += 1
    return nonce_at(position)
