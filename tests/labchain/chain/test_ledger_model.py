"""The chain goes through its ledger model for every state change: a recording subclass of the
UTXO model sees each connect and disconnect of a reorganisation, and the chain's answers are
the UTXO model's (both suites)."""
from __future__ import annotations

from labchain.chain import Chain
from labchain.chain import chain as chain_module
from labchain.chain.ledger_model import LEDGER_MODELS, UtxoModel


class RecordingModel(UtxoModel):
    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def connect(self, chain, entry, block) -> None:
        super().connect(chain, entry, block)
        self.calls.append(("connect", entry.height))

    def disconnect(self, chain, entry, block) -> None:
        super().disconnect(chain, entry, block)
        self.calls.append(("disconnect", entry.height))


def test_both_models_are_registered_by_module_path():
    assert set(LEDGER_MODELS) == {"utxo", "account"}
    assert all(":" in target for target in LEDGER_MODELS.values())


def test_a_reorganisation_runs_through_the_model(kit, monkeypatch):
    made: list[RecordingModel] = []
    monkeypatch.setattr(chain_module, "ledger_model", lambda params: made.append(RecordingModel()) or made[-1])
    with kit.new_chain() as chain, kit.new_chain() as rival:
        model = chain.ledger
        assert model is made[0] and rival.ledger is made[1]
        kit.extend(chain, 1, to=kit.address(1))
        side = kit.extend(rival, 2, to=kit.address(2))
        before = chain.balance(kit.address(1))
        for block in side:
            chain.add_block(block)
        assert model.calls == [("connect", 1), ("disconnect", 1), ("connect", 1), ("connect", 2)]
        assert chain.tip_hash == rival.tip_hash
        reward = kit.params.block_reward(1)
        assert chain.balance(kit.address(1)) == before - reward     # the losing block's reward is gone
        assert chain.balance(kit.address(2)) == rival.balance(kit.address(2))
