"""Consensus parameters: the shipped networks, the halving schedule and lookup errors."""
import pytest

from labchain.consensus.pow.difficulty import work_of
from labchain.core.errors import UnknownNetworkError
from labchain.core.params import COIN, LAB, MAIN, REGTEST, Params, get_params


@pytest.mark.parametrize("name,params", [("regtest", REGTEST), ("lab", LAB), ("main", MAIN)])
def test_networks_are_found_by_name(name, params):
    assert get_params(name) is params and params.name == name


def test_get_params_passes_params_through():
    custom = REGTEST.with_changes(name="custom", coinbase_maturity=3)
    assert get_params(custom) is custom
    assert custom.coinbase_maturity == 3 and REGTEST.coinbase_maturity == 10


@pytest.mark.parametrize("name", ["testnet", "", None, ["regtest"]])
def test_unknown_network_names_the_choices(name):
    with pytest.raises(UnknownNetworkError) as info:
        get_params(name)
    assert str(info.value) == f"unknown network {name!r}; choose one of regtest, lab, main, regtest-sm, regtest-account"
    assert isinstance(info.value, KeyError)


def test_main_halving_schedule_follows_bitcoin():
    assert MAIN.block_reward(0) == 50 * COIN
    assert MAIN.block_reward(209_999) == 50 * COIN
    assert MAIN.block_reward(210_000) == 25 * COIN
    assert MAIN.block_reward(420_000) == 1_250_000_000
    assert MAIN.block_reward(210_000 * 33) == 0  # 50 COIN >> 33 rounds to zero
    assert MAIN.block_reward(210_000 * 64) == 0


def test_regtest_halves_every_150_blocks():
    assert [REGTEST.block_reward(h) for h in (0, 149, 150, 300, 450)] == [
        50 * COIN, 50 * COIN, 25 * COIN, 12.5 * COIN, 6.25 * COIN]


def test_total_supply_of_main_stays_below_max_money():
    total = sum(MAIN.block_reward(h * 210_000) * 210_000 for h in range(64))
    assert total <= MAIN.max_money
    assert total > 0.99 * MAIN.max_money


def test_difficulty_settings_match_their_purpose():
    assert work_of(REGTEST.initial_bits) == 1                 # half of all hashes win
    assert 0.9e6 < work_of(LAB.initial_bits) < 1.1e6          # about a million hashes
    assert REGTEST.no_retargeting and not LAB.no_retargeting
    assert MAIN.target_timespan == 2016 * 600
    for params in (REGTEST, LAB, MAIN):
        assert params.initial_bits <= params.pow_limit_bits or params.pow_limit >= params.initial_bits


def test_params_are_immutable():
    with pytest.raises(AttributeError):
        REGTEST.block_time = 5  # type: ignore[misc]
    assert isinstance(REGTEST, Params)
