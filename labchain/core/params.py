"""Consensus parameters as data: one :class:`Params` per network.

Every rule that real chains tune (block time, difficulty adjustment, reward schedule,
maturity, limits) is a field here, with the name Bitcoin Core gives it, so a lab can show
what changes when a number changes, and no magic constant hides in the validation code.

Networks shipped
----------------
``regtest``  trivial proof of work (half of all hashes win) and no retargeting, for tests and
             labs that need many blocks now. Like Bitcoin's regtest.
``lab``      about one block per second on one laptop core in pure Python, retargeting every
             20 blocks, so a lab can watch difficulty follow hash power.
``main``     realistic, Bitcoin-like values for reading and comparison; not for mining here.
``regtest-sm`` regtest on the ``sm2-sm3`` suite (SM3 hashes, SM2 signatures): every id,
             address and signature differs from regtest's, the numbers are the same.

Simplifications: regtest and lab pre-fund ``funded_accounts`` deterministic accounts in the
genesis block (as Ganache does), and those genesis outputs are spendable at once.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from labchain.consensus.pow.difficulty import bits_to_target, target_to_bits
from labchain.core.errors import UnknownNetworkError

#: Base units per coin (Bitcoin: COIN, 100 000 000 satoshi).
COIN = 100_000_000


@dataclass(frozen=True, slots=True)
class Params:
    name: str
    block_time: int            # seconds; Bitcoin: nPowTargetSpacing (600)
    retarget_interval: int     # blocks; Bitcoin: DifficultyAdjustmentInterval() (2016)
    retarget_clamp: int        # Bitcoin: the factor 4 in CalculateNextWorkRequired
    pow_limit_bits: int        # easiest allowed target; Bitcoin: consensus.powLimit
    initial_bits: int          # genesis target; Bitcoin: genesis.nBits
    no_retargeting: bool       # Bitcoin: fPowNoRetargeting (regtest)
    initial_reward: int        # base units; Bitcoin: 50 * COIN in GetBlockSubsidy
    halving_interval: int      # blocks; Bitcoin: nSubsidyHalvingInterval (210000)
    coinbase_maturity: int     # blocks; Bitcoin: COINBASE_MATURITY (100)
    max_block_size: int        # bytes; Bitcoin: MAX_BLOCK_SERIALIZED_SIZE (4 000 000)
    max_block_txs: int         # transactions per block (Bitcoin has only the size limit)
    max_future_block_time: int # seconds; Bitcoin: MAX_FUTURE_BLOCK_TIME (7200)
    median_time_span: int      # blocks; Bitcoin: the 11 in GetMedianTimePast
    max_money: int             # base units; Bitcoin: MAX_MONEY (21 000 000 * COIN)
    max_memo: int              # bytes of memo per transaction; Bitcoin: OP_RETURN relay limit (80)
    genesis_timestamp: int     # Bitcoin: genesis.nTime
    genesis_memo: bytes        # Bitcoin: the "Chancellor on brink..." coinbase text
    account_seed: str          # seed phrase of the pre-funded accounts (Ganache: its mnemonic)
    funded_accounts: int       # how many accounts the genesis block funds (Ganache: 10)
    account_balance: int       # base units each
    suite: str = "p256-sha256" # crypto suite registry name (or a Suite object, for experiments);
                               # ChainMaker bc.yml: crypto.hash + pk_algo
    ledger: str = "utxo"       # ledger model (labchain/chain/ledger_model.py): utxo | account;
                               # ChainMaker has accounts only, Bitcoin UTXO only
    consensus: object = None   # None: proof of work; else the engine's ConsensusSpec
                               # (labchain/consensus/registry.py; ChainMaker: consensus.type)

    @property
    def target_timespan(self) -> int:
        """Seconds one retarget interval should take (Bitcoin: nPowTargetTimespan)."""
        return self.block_time * self.retarget_interval

    @property
    def crypto(self):
        """The chain's :class:`~labchain.crypto.suite.Suite` (hashes, signatures, addresses)."""
        from labchain.crypto.suite import get_suite

        return get_suite(self.suite)

    @property
    def pow_limit(self) -> int:
        return bits_to_target(self.pow_limit_bits)

    def block_reward(self, height: int) -> int:
        """New coins a block at ``height`` may create (Bitcoin: GetBlockSubsidy)."""
        halvings = height // self.halving_interval
        return 0 if halvings >= 64 else self.initial_reward >> halvings

    def with_changes(self, **changes) -> Params:
        """A copy with some values changed, for experiments in labs and tests."""
        return replace(self, **changes)


_TEST_ACCOUNTS = dict(
    account_seed="labchain test accounts do not use for real money",
    funded_accounts=10,
    account_balance=1000 * COIN,
)

REGTEST = Params(
    name="regtest",
    block_time=1,
    retarget_interval=150,
    retarget_clamp=4,
    pow_limit_bits=target_to_bits(1 << 255),
    initial_bits=target_to_bits(1 << 255),
    no_retargeting=True,
    initial_reward=50 * COIN,
    halving_interval=150,         # Bitcoin regtest: 150
    coinbase_maturity=10,          # Bitcoin regtest keeps 100; 10 keeps labs short
    max_block_size=1_000_000,
    max_block_txs=10_000,
    max_future_block_time=7200,
    median_time_span=11,
    max_money=21_000_000 * COIN,
    max_memo=80,
    genesis_timestamp=1_767_225_600,  # 2026-01-01T00:00:00Z
    genesis_memo=b"LabChain regtest genesis",
    **_TEST_ACCOUNTS,
)

LAB = REGTEST.with_changes(
    name="lab",
    block_time=1,
    retarget_interval=20,
    no_retargeting=False,
    pow_limit_bits=target_to_bits(1 << 248),
    initial_bits=target_to_bits((1 << 256) // 1_000_000),  # ~1e6 hashes: ~1 s on one core
    halving_interval=210_000,
    genesis_memo=b"LabChain lab genesis",
)

MAIN = Params(
    name="main",
    block_time=600,
    retarget_interval=2016,
    retarget_clamp=4,
    pow_limit_bits=0x1D00FFFF,
    initial_bits=0x1D00FFFF,
    no_retargeting=False,
    initial_reward=50 * COIN,
    halving_interval=210_000,
    coinbase_maturity=100,
    max_block_size=4_000_000,
    max_block_txs=100_000,
    max_future_block_time=7200,
    median_time_span=11,
    max_money=21_000_000 * COIN,
    max_memo=80,
    genesis_timestamp=1_231_006_505,  # Bitcoin's genesis time
    genesis_memo=b"LabChain main-like genesis: realistic values, for reading",
    account_seed="",
    funded_accounts=0,
    account_balance=0,
)

#: regtest on China's national cryptography (SM3 ids and addresses, SM2 signatures): the same
#: numbers, its own chain id and genesis (labchain/core/chains/regtest-sm.yml)
REGTEST_SM = REGTEST.with_changes(
    name="regtest-sm",
    genesis_memo=b"LabChain regtest-sm genesis",
    suite="sm2-sm3",
)

#: regtest on the account ledger model (accounts, gas, contracts; labchain/core/chains/regtest-account.yml):
#: the same PoW numbers; genesis allocates the deterministic accounts' balances to their account addresses
REGTEST_ACCOUNT = REGTEST.with_changes(
    name="regtest-account",
    genesis_memo=b"LabChain regtest-account genesis",
    ledger="account",
)

NETWORKS: dict[str, Params] = {p.name: p for p in (REGTEST, LAB, MAIN, REGTEST_SM, REGTEST_ACCOUNT)}


def get_params(name: str | Params) -> Params:
    """The parameters of a named network (``regtest``, ``lab`` or ``main``)."""
    if isinstance(name, Params):
        return name
    try:
        return NETWORKS[name]
    except (KeyError, TypeError):
        raise UnknownNetworkError(
            f"unknown network {name!r}; choose one of {', '.join(NETWORKS)}", name
        ) from None
