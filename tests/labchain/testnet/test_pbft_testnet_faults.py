"""PBFT (FISCO BCOS) on 4 real validator processes: one down -> blocks keep committing; two down -> no
block and no fork; both restarted -> commits resume and they catch up (bft_scenario.py)."""
import pytest
from tests.labchain.testnet.bft_scenario import run_bft_fault_scenario


@pytest.mark.long     # over half a minute on 2 cores: `make test-long` (README)
def test_pbft_commits_with_one_validator_down_stops_with_two_and_resumes(tmp_path):
    run_bft_fault_scenario("pbft-4", tmp_path)
