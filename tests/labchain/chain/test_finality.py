"""Engine-sealed blocks (labchain/chain/finality.py): a committed block extends the tip and is
final; a commit seen twice is applied once; another block at a final height, or one that does
not build on the tip, is refused; build_block is deterministic and leaves invalid txs out."""
import pytest

from labchain.chain import Chain
from labchain.chain.finality import FinalityError, FinalityLog, build_block, engine_chain
from labchain.core.config import load_config
from labchain.core.params import get_params
from labchain.wallet import Wallet

PARAMS = load_config("raft-3").params


@pytest.fixture
def chain():
    c = Chain(PARAMS, clock=lambda: PARAMS.genesis_timestamp + 10_000)
    yield c
    c.close()


def _wallet():
    return Wallet.from_seed(PARAMS.account_seed, 10, suite=PARAMS.crypto)


def test_only_engine_chains_are_engine_chains():
    assert engine_chain(PARAMS) and not engine_chain(get_params("regtest"))


def test_a_committed_block_extends_the_tip_with_its_certificate(chain):
    final = FinalityLog(chain)
    block, dropped = build_block(chain, [], _wallet().addresses[0])
    update = final.append(1, block, b"cert-1")
    assert update.status == "new_tip" and chain.height == 1 and dropped == 0
    assert final.certificate(1) == b"cert-1"
    assert final.append(1, block, b"cert-1") is None           # seen twice: applied once
    assert chain.height == 1


def test_another_block_at_a_final_height_or_off_the_tip_is_refused(chain):
    final = FinalityLog(chain)
    address = _wallet().addresses[0]
    first, _ = build_block(chain, [], address)
    other, _ = build_block(chain, [], address, timestamp=PARAMS.genesis_timestamp + 500)
    final.append(1, first)
    with pytest.raises(FinalityError, match="at height 1, where block .* is already final"):
        final.append(1, other)
    with pytest.raises(FinalityError, match="does not extend the tip"):
        final.append(2, other)                                  # builds on genesis, not on the tip
    assert chain.tip_hash == first.hash_in(chain.suite)


def test_build_block_is_deterministic_and_leaves_out_invalid_transactions(chain, tmp_path):
    wallet = _wallet()
    pay = wallet.pay(chain, to=wallet.addresses[9], amount=5_000, fee=100)
    twin = Chain(PARAMS, path=tmp_path / "twin.sqlite")
    try:
        a, dropped_a = build_block(chain, [pay, pay], wallet.addresses[0])
        b, dropped_b = build_block(twin, [pay, pay], wallet.addresses[0])
        assert a.to_bytes() == b.to_bytes() and dropped_a == dropped_b == 1   # the repeat is left out
        assert [t.txid_in(chain.suite) for t in a.transactions[1:]] == [pay.txid_in(chain.suite)]
    finally:
        twin.close()
