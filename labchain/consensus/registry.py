"""Which message-passing engine a chain runs: the chain config's ``consensus`` section as data
(:class:`ConsensusSpec`) and a registry from ``consensus.type`` to an engine factory.

The node never imports an engine by name: it calls :func:`build_engine` with the spec its chain
config carries (``params.consensus``), so a new engine is one entry in :data:`ENGINES`.

Terminology
-----------
validators
    The node names that take part in consensus (ChainMaker: ``consensus.nodes``' node ids;
    here the names testnets give their nodes, ``node0``, ``node1``...). A node whose name is not
    listed follows the chain without voting (ChainMaker's "common"/sync node) where the engine
    supports it (Solo, Raft).
block_interval / block_tx_capacity
    ChainMaker's ``block.block_interval`` (milliseconds there, seconds here) and
    ``block.block_tx_capacity``: how often a block is cut and how many transactions it holds.
    The spec gives the values an engine starts with; a governed config update changes them from
    the next block on (``Engine.reconfigure`` with a ``BlockParams``, driven by
    labchain/node/consensus.py).

Simplifications: the BFT engines' validator keys are derived from the chain's account seed
(``validator_secret``), so every node of a testnet knows every validator's public key without a
certificate authority (issue #12's identity layer replaces this); ``validators`` is fixed for the
chain's life (a governed consensus-node change does not reach the engines yet,
docs/consensus-nodes.md).
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Callable

from labchain.consensus.engine import Application, ConsensusError, Engine

#: ``consensus.type`` values that name a message-passing engine (``pow`` is not one)
ENGINE_TYPES = ("solo", "raft", "pbft", "tbft")

#: engine -> its own keys in ``consensus.<type>`` (beside block_interval and block_tx_capacity),
#: with the type of each and its smallest allowed value
ENGINE_SETTINGS: dict[str, dict[str, tuple[type, float]]] = {
    "solo": {},
    "raft": {"tick": (float, 0.001), "election_tick": (int, 2), "heartbeat_tick": (int, 1)},
    "pbft": {"request_timeout": (float, 0.01), "checkpoint_period": (int, 1)},
    "tbft": {"TBFT_propose_timeout": (float, 0.01), "TBFT_propose_delta_timeout": (float, 0.0),
             "TBFT_blocks_per_proposer": (int, 1)},
}


@dataclass(frozen=True, slots=True)
class ConsensusSpec:
    """A chain config's ``consensus`` section for a message-passing engine."""
    type: str                                   # ChainMaker: consensus.type (SOLO, RAFT, TBFT...)
    validators: tuple[str, ...]                 # ChainMaker: consensus.nodes (node ids)
    block_interval: float                       # seconds; ChainMaker: block.block_interval (ms)
    block_tx_capacity: int                      # ChainMaker: block.block_tx_capacity
    settings: tuple[tuple[str, float | int], ...] = ()   # the engine's own keys, sorted

    def get(self, key: str, default: Any = None) -> Any:
        return dict(self.settings).get(key, default)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "validators": list(self.validators),
                "block_interval": self.block_interval, "block_tx_capacity": self.block_tx_capacity,
                **dict(self.settings)}


def validator_secret(suite: Any, seed: str, index: int) -> int:
    """The deterministic signing secret of validator ``index`` (see the module's simplifications)."""
    return suite.secret_from_seed(f"{seed} / consensus validator", index)


def _solo(spec: ConsensusSpec, node_id: str, app: Application, rng: random.Random, suite: Any,
          seed: str, chain_id: str) -> Engine:
    from labchain.consensus.solo import SoloEngine

    return SoloEngine(node_id, spec.validators, app, block_interval=spec.block_interval)


def _raft(spec: ConsensusSpec, node_id: str, app: Application, rng: random.Random, suite: Any,
          seed: str, chain_id: str) -> Engine:
    from labchain.consensus.raft import RaftConfig, RaftEngine

    config = RaftConfig(tick=float(spec.get("tick", 0.1)), election_tick=int(spec.get("election_tick", 10)),
                        heartbeat_tick=int(spec.get("heartbeat_tick", 1)),
                        block_interval=spec.block_interval, block_tx_capacity=spec.block_tx_capacity)
    return RaftEngine(node_id, spec.validators, app, rng=rng, config=config)


def _keys(spec: ConsensusSpec, node_id: str, suite: Any, seed: str) -> tuple[int | None, dict[str, bytes]]:
    secrets = {v: validator_secret(suite, seed, i) for i, v in enumerate(spec.validators)}
    return secrets.get(node_id), {v: suite.public_key(s) for v, s in secrets.items()}


def _pbft(spec: ConsensusSpec, node_id: str, app: Application, rng: random.Random, suite: Any,
          seed: str, chain_id: str) -> Engine:
    from labchain.consensus.pbft import PBFTEngine

    secret, public = _keys(spec, node_id, suite, seed)
    return PBFTEngine(node_id, spec.validators, app, secret=secret, public_keys=public, suite=suite,
                      checkpoint_period=int(spec.get("checkpoint_period", 10)),
                      request_timeout=float(spec.get("request_timeout", 1.0)),
                      block_interval=spec.block_interval, domain=chain_id.encode())


def _tbft(spec: ConsensusSpec, node_id: str, app: Application, rng: random.Random, suite: Any,
          seed: str, chain_id: str) -> Engine:
    from labchain.consensus.tbft import TBFTConfig, TBFTEngine

    secret, public = _keys(spec, node_id, suite, seed)
    config = TBFTConfig(propose_timeout=float(spec.get("TBFT_propose_timeout", 3.0)),
                        propose_delta_timeout=float(spec.get("TBFT_propose_delta_timeout", 0.5)),
                        blocks_per_proposer=int(spec.get("TBFT_blocks_per_proposer", 1)),
                        chain_id=chain_id)
    return TBFTEngine(node_id, spec.validators, app, suite=suite, secret=secret, public_keys=public,
                      config=config)


Factory = Callable[..., Engine]
ENGINES: dict[str, Factory] = {"solo": _solo, "raft": _raft, "pbft": _pbft, "tbft": _tbft}


def build_engine(spec: ConsensusSpec, node_id: str, app: Application, *, rng: random.Random,
                 suite: Any, seed: str = "", chain_id: str = "") -> Engine:
    """The engine ``spec.type`` names, for node ``node_id``; ConsensusError for an unknown type."""
    factory = ENGINES.get(spec.type)
    if factory is None:
        raise ConsensusError(f"unknown consensus engine {spec.type!r}; the engines are "
                             f"{', '.join(ENGINES)}", spec.type)
    return factory(spec, node_id, app, rng, suite, seed, chain_id)
