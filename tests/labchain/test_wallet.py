"""The wallet against a real chain and mempool: payments, change, coin selection, maturity."""
import pytest

from labchain.block import account_key
from labchain.chain import Chain, Coin, Mempool
from labchain.crypto import PrivateKey
from labchain.core.errors import (
    AddressError,
    DoubleSpendError,
    InsufficientFundsError,
    MalformedTransactionError,
    WalletError,
)
from labchain.consensus.pow.miner import Miner
from labchain.core.params import REGTEST
from labchain.ledger.utxo.tx import OutPoint, TxOut
from labchain.wallet import Wallet, select_coins, spent_by

FUNDED = account_key(REGTEST, 0)           # holds one genesis output of 1000 coins
BALANCE = REGTEST.account_balance
BOB = PrivateKey.from_seed("wallet tests bob", 0).address


@pytest.fixture
def chain():
    chain = Chain(REGTEST)
    yield chain
    chain.close()


def mine(chain, mempool, address, count=1):
    miner = Miner(REGTEST)
    for _ in range(count):
        block = miner.mine(mempool, address, timestamp=chain.tip_header.timestamp + 1)
        mempool.update(chain.add_block(block))


def test_seed_wallets_are_deterministic():
    wallet = Wallet.from_seed("my lab seed", count=3)
    assert wallet.addresses == [PrivateKey.from_seed("my lab seed", i).address for i in range(3)]
    assert Wallet.from_seed("my lab seed", 3).addresses == wallet.addresses
    assert Wallet.from_keys([FUNDED]).addresses == [FUNDED.address]
    with pytest.raises(WalletError, match="at least one key"):
        Wallet.from_keys([])


def test_payment_with_change_is_accepted_by_the_mempool_and_confirmed(chain):
    mempool, wallet = Mempool(chain), Wallet.from_keys([FUNDED])
    tx = wallet.pay(chain, to=str(BOB), amount=7 * 10**8, fee=5_000, memo=b"lab 4")
    assert [(o.amount, o.address) for o in tx.outputs] == [
        (7 * 10**8, BOB), (BALANCE - 7 * 10**8 - 5_000, FUNDED.address)]
    assert tx.memo == b"lab 4"
    mempool.add(tx)
    mine(chain, mempool, BOB)
    assert chain.get_transaction(tx.txid).confirmations == 1
    assert chain.balance(FUNDED.address) == BALANCE - 7 * 10**8 - 5_000
    assert wallet.balance(chain) == BALANCE - 7 * 10**8 - 5_000


def test_exact_amount_needs_no_change_output(chain):
    tx = Wallet.from_keys([FUNDED]).pay(chain, BOB, BALANCE - 1_000, fee=1_000)
    assert tx.outputs == (TxOut(BALANCE - 1_000, BOB),)
    Mempool(chain).add(tx)


def test_change_goes_to_the_chosen_address(chain):
    change = PrivateKey.from_seed("wallet tests change", 0).address
    tx = Wallet.from_keys([FUNDED]).pay(chain, BOB, 1, fee=0, change_address=change)
    assert tx.outputs[1] == TxOut(BALANCE - 1, change)


def test_inputs_from_several_keys_are_each_signed(chain):
    wallet = Wallet.from_keys([account_key(REGTEST, 1), account_key(REGTEST, 2)])
    assert wallet.balance(chain) == 2 * BALANCE
    tx = wallet.pay(chain, BOB, BALANCE + 1, fee=100)
    assert len(tx.inputs) == 2
    assert {i.pubkey for i in tx.inputs} == {k.public_key.data for k in wallet.keys}
    Mempool(chain).add(tx)  # real signature and key checks


def test_exclude_keeps_a_second_payment_off_pending_coins(chain):
    mempool = Mempool(chain)
    wallet = Wallet.from_keys([account_key(REGTEST, 3), account_key(REGTEST, 4)])
    mempool.add(wallet.pay(chain, BOB, 10, fee=10))
    with pytest.raises(DoubleSpendError):
        mempool.add(wallet.pay(chain, BOB, 20, fee=10))       # picks the same coin again
    second = wallet.pay(chain, BOB, 20, fee=10, exclude=spent_by(mempool.transactions()))
    mempool.add(second)
    assert len(mempool) == 2
    with pytest.raises(InsufficientFundsError):
        wallet.pay(chain, BOB, 20, fee=10, exclude=spent_by(mempool.transactions()))


def test_immature_coinbase_outputs_are_not_spent(chain):
    mempool, miner_key = Mempool(chain), PrivateKey.from_seed("wallet tests miner", 0)
    wallet = Wallet.from_keys([miner_key])
    mine(chain, mempool, miner_key.address)
    reward = REGTEST.block_reward(1)
    assert chain.balance(miner_key.address) == reward and wallet.balance(chain) == 0
    with pytest.raises(InsufficientFundsError, match=f"{reward} more are immature coinbase outputs"):
        wallet.pay(chain, BOB, 1, fee=0)
    mine(chain, mempool, BOB, REGTEST.coinbase_maturity - 1)   # next block is at maturity height
    tx = wallet.pay(chain, BOB, 1, fee=0)
    mempool.add(tx)  # the chain agrees it has matured


def test_insufficient_funds_says_how_much_is_missing(chain):
    wallet = Wallet.from_keys([FUNDED])
    with pytest.raises(InsufficientFundsError,
                       match=f"cannot pay {BALANCE} \\+ fee 1: .*add up to {BALANCE} base units, 1 short"):
        wallet.pay(chain, BOB, BALANCE, fee=1)


@pytest.mark.parametrize("amount,fee,message", [
    (0, 1, "amount must be a positive integer"), (-5, 1, "amount must be a positive integer"),
    (1.5, 1, "amount must be a positive integer"), (1, -1, "fee must be a non-negative integer"),
])
def test_bad_amounts_and_fees(chain, amount, fee, message):
    with pytest.raises(WalletError, match=message):
        Wallet.from_keys([FUNDED]).pay(chain, BOB, amount, fee)


def test_mistyped_recipient_is_caught_before_paying(chain):
    text = str(BOB)
    typo = text[:-1] + ("2" if text[-1] != "2" else "3")
    with pytest.raises(AddressError, match="bad checksum"):
        Wallet.from_keys([FUNDED]).pay(chain, typo, 1, 0)


def test_memo_over_the_limit_is_refused(chain):
    with pytest.raises(MalformedTransactionError, match="81-byte memo"):
        Wallet.from_keys([FUNDED]).pay(chain, BOB, 1, 0, memo=b"x" * 81)


# --- coin selection as a pure function, on real Coin records --------------------------------

def coins(*amounts):
    return [Coin(OutPoint(bytes([i]) * 32, 0), TxOut(a, BOB), 1, False) for i, a in enumerate(amounts)]


def picked(selection):
    return sorted(c.output.amount for c in selection.coins)


def test_selection_prefers_an_exact_single_coin():
    selection = select_coins(coins(5, 10, 7, 30), 7)
    assert picked(selection) == [7] and selection.change == 0


def test_selection_takes_the_smallest_single_coin_that_covers():
    selection = select_coins(coins(5, 10, 30, 12), 11)
    assert picked(selection) == [12] and selection.change == 1


def test_selection_adds_largest_first_when_no_single_coin_covers():
    selection = select_coins(coins(5, 10, 30, 12, 1), 45)
    assert picked(selection) == [10, 12, 30] and selection.change == 7  # 30, then 12, then 10


def test_selection_is_deterministic_on_ties():
    assert select_coins(coins(10, 10, 10), 10).coins == select_coins(list(reversed(coins(10, 10, 10))), 10).coins


def test_selection_fails_with_the_shortfall():
    with pytest.raises(InsufficientFundsError, match="add up to 15 base units, 5 short of the 20 needed"):
        select_coins(coins(5, 10), 20)


def test_an_sm_wallet_pays_on_an_sm_chain_and_refuses_the_other_suites_addresses_and_chains(chain):
    from labchain.core.errors import AddressError
    from labchain.core.params import REGTEST_SM

    sm_chain = Chain(REGTEST_SM)
    try:
        wallet = Wallet.from_seed(REGTEST_SM.account_seed, 2, suite=REGTEST_SM.crypto)
        assert wallet.addresses == [account_key(REGTEST_SM, i).address for i in range(2)]
        assert wallet.addresses[0] != FUNDED.address and str(wallet.addresses[0]).startswith("S")
        tx = wallet.pay(sm_chain, to=wallet.addresses[1], amount=COIN_, fee=1_000)
        assert Mempool(sm_chain).add(tx) == REGTEST_SM.crypto.hash256(tx.to_bytes())
        with pytest.raises(AddressError, match=r"is an address of the p256-sha256 crypto suite \(version "
                                               r"byte 0x30\), but this chain uses sm2-sm3 \(0x3f\)"):
            wallet.pay(sm_chain, to=BOB, amount=COIN_, fee=0)
        with pytest.raises(WalletError, match="keys are of the sm2-sm3 crypto suite, but the chain uses "
                                              "p256-sha256"):
            wallet.pay(chain, to=wallet.addresses[1], amount=COIN_, fee=0)
        with pytest.raises(WalletError, match="keys of one crypto suite"):
            Wallet.from_keys([FUNDED, account_key(REGTEST_SM, 0)])
    finally:
        sm_chain.close()


COIN_ = 10**8
