"""The chain layer: contextual validation, fork choice, UTXO state, mempool, SQLite store.

Public API (see docs/ARCHITECTURE.md, "Chain", and docs/chain.md)::

    chain = Chain(params, path=None, clock=time.time)
    update = chain.add_block(block)          # ChainUpdate(status, connected, disconnected)
    mempool = Mempool(chain); mempool.add(tx); mempool.update(update)

Modules: ``records`` (result types), ``tree`` (block index, fork choice, retarget, MTP),
``utxo`` (UTXO view with undo), ``validation`` (contextual rules), ``store`` (SQLite),
``chain`` (``Chain``), ``mempool`` (``Mempool``).
"""
from labchain.chain.chain import Chain
from labchain.chain.mempool import Mempool
from labchain.chain.records import BlockInfo, BlockUndo, ChainUpdate, Coin, TxInfo

__all__ = ["Chain", "Mempool", "ChainUpdate", "BlockInfo", "TxInfo", "Coin", "BlockUndo"]
