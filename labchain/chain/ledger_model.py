"""The ledger-model interface: what the chain asks of a ledger (UTXO or accounts), chosen by
the chain config's ``ledger.model`` (issue #9: one pluggable part, no copied twins).

Terminology
-----------
ledger model
    The part of a chain that knows what a transaction is and what state blocks build: the
    UTXO set (:class:`UtxoModel`, Bitcoin) or accounts with contracts
    (:class:`labchain.chain.account_model.AccountModel`, Ethereum/ChainMaker/FISCO BCOS).
    The block tree, most-work fork choice, the block store and the reorganisation loop in
    ``chain.py`` are the same for every model; they call the model for:

    ``genesis_block(params)``               block 0 of the chain
    ``block_type``                          the record class blocks decode as
    ``check_block_syntax(block, params)``   rules that need only the block
    ``check_block_context(block, h, suite)`` rules that need its height
    ``open(chain)``                         attach the model's own state (after the tree loads)
    ``connect_genesis(chain, genesis)``     the state of block 0
    ``connect(chain, entry, block)``        validate the block against the tip state and apply
                                            it (raises the rule broken, state unchanged)
    ``disconnect(chain, entry, block)``     undo the tip block with its undo data
    ``new_pool(chain)``                     the transaction pool (admission, ordering, template)
    ``tx_type``                             the record class transactions decode as (Raft's commands)
    ``build_block(chain, txs, reward, ...)`` an engine chain's sealed block on the tip from those
                                            of ``txs`` valid in order (deterministic: Raft)
    ``check_proposal(chain, block)``        an engine's proposal check (raises the rule broken)
    ``rpc_module``                          module whose ``register(methods, node)`` adds the
                                            model's RPC methods (None: none beyond the base)
    ``close()``

Models are registered by name in :data:`LEDGER_MODELS` (name -> "module:Class"), imported on
first use, so the chain and the node never import a model by name.

Simplifications versus real chains: the model is fixed for a chain's life (no migration);
ChainMaker and FISCO BCOS have no UTXO model at all, Bitcoin no account model.
"""
from __future__ import annotations

import importlib

from labchain.block import Block, check_block_syntax, genesis_block
from labchain.core.errors import BlockValidationError, ConfigError
from labchain.core.params import Params
from labchain.ledger.utxo.tx import Transaction

from labchain.chain.utxo import UtxoView
from labchain.chain.validation import check_block_context, connect_transactions

#: ledger.model name -> "module:Class" of its LedgerModel.
LEDGER_MODELS = {
    "utxo": "labchain.chain.ledger_model:UtxoModel",
    "account": "labchain.chain.account_model:AccountModel",
}


class LedgerModel:
    """Base of the ledger models (see the module docstring for each method's contract)."""

    name = ""
    block_type: type = Block
    tx_type: type = Transaction
    rpc_module: str | None = None

    def genesis_block(self, params: Params):
        raise NotImplementedError

    def check_block_syntax(self, block, params: Params) -> None:
        raise NotImplementedError

    def check_block_context(self, block, height: int, suite) -> None:
        raise NotImplementedError

    def open(self, chain) -> None:
        """Attach to ``chain`` once its block tree and store are open."""

    def connect_genesis(self, chain, genesis) -> None:
        raise NotImplementedError

    def connect(self, chain, entry, block) -> None:
        raise NotImplementedError

    def disconnect(self, chain, entry, block) -> None:
        raise NotImplementedError

    def recover(self, chain) -> None:
        """After a reopen: bring the model's own state to the chain's tip (crash between stores)."""

    def new_pool(self, chain):
        raise NotImplementedError

    def build_block(self, chain, transactions, reward_address, timestamp: int | None = None,
                    capacity: int | None = None):
        """(sealed block on the tip, how many of ``transactions`` were left out): an engine chain's
        proposal or Raft entry (docs/accounts-on-engines.md)."""
        raise NotImplementedError

    def check_proposal(self, chain, block) -> None:
        """The rules an engine's proposal must pass before a vote (default: the block's own)."""
        self.check_block_syntax(block, chain.params)

    def close(self) -> None:
        """Release the model's own resources."""


def ledger_model(params: Params) -> LedgerModel:
    """A fresh model instance for a chain of ``params`` (``params.ledger``, default utxo)."""
    name = getattr(params, "ledger", "utxo")
    try:
        target = LEDGER_MODELS[name]
    except KeyError:
        raise ConfigError(f"ledger model {name!r} is unknown; the models are "
                          f"{', '.join(sorted(LEDGER_MODELS))}", name) from None
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)()


class UtxoModel(LedgerModel):
    """Bitcoin's model: coins (outputs) created and spent; the chain store holds the UTXO set."""

    name = "utxo"
    block_type = Block

    def genesis_block(self, params: Params) -> Block:
        return genesis_block(params)

    def check_block_syntax(self, block: Block, params: Params) -> None:
        if not isinstance(block, Block):
            raise BlockValidationError(f"{block} is not a UTXO block; this chain uses the UTXO ledger", block)
        check_block_syntax(block, params)

    def check_block_context(self, block: Block, height: int, suite) -> None:
        check_block_context(block, height, suite)

    def connect_genesis(self, chain, genesis: Block) -> None:
        view = UtxoView(chain.store, chain.suite)  # genesis is valid by definition: its outputs just exist
        view.add_outputs(genesis.transactions[0], 0)
        chain.store.connect(genesis, 0, view.created_coins(), view.undo())

    def connect(self, chain, entry, block: Block) -> None:
        view = UtxoView(chain.store, chain.suite)
        connect_transactions(block, entry.height, view, chain.params, chain.verify_workers,
                             verify_signatures=entry.status != "valid")
        chain.store.connect(block, entry.height, view.created_coins(), view.undo())

    def disconnect(self, chain, entry, block: Block) -> None:
        chain.store.disconnect(block, chain.store.undo(entry.hash))

    def new_pool(self, chain):
        from labchain.chain.mempool import Mempool

        return Mempool(chain)

    def build_block(self, chain, transactions, reward_address, timestamp: int | None = None,
                    capacity: int | None = None):
        from labchain.chain.finality import build_utxo_block

        return build_utxo_block(chain, transactions, reward_address, timestamp, capacity)
