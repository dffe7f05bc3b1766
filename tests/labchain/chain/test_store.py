"""The SQLite store: reopening restores the exact chain; a data dir belongs to one network."""
from __future__ import annotations

import sqlite3

import pytest

from labchain.chain import Chain
from labchain.core.errors import CoinbaseError, StoreError
from labchain.core.params import COIN


def snapshot(chain):
    return {
        "tip": chain.tip_hash, "height": chain.height, "coins": chain.store.all_coins(),
        "blocks": {h: chain.block_info(h) for h in chain.tree.entries},
        "main": chain.main_chain_hashes(),
    }


def test_reopening_restores_the_exact_chain(kit, tmp_path):
    path = tmp_path / "chain.sqlite"
    chain = kit.new_chain(path)
    kit.extend(chain, 2)
    chain.add_block(kit.block(chain, [kit.pay(chain, 0, to=kit.address(1), amount=3 * COIN, fee=10)]))
    kit.extend(chain, 2, parent=chain.genesis_hash, to=kit.address(7))  # a side branch
    with pytest.raises(CoinbaseError):
        chain.add_block(kit.block(chain, reward=99 * COIN))             # an invalid block
    before = snapshot(chain)
    chain.close()
    reopened = kit.new_chain(path)
    assert snapshot(reopened) == before
    assert reopened.balance(kit.address(1)) == 1003 * COIN
    kit.extend(reopened, 1)  # and it keeps working
    reopened.close()


def test_reopen_finishes_an_interrupted_reorganisation(kit, tmp_path):
    path = tmp_path / "chain.sqlite"
    chain = kit.new_chain(path)
    main = kit.extend(chain, 3)
    chain._disconnect_tip()  # as if killed in the middle of a reorg: a valid tip with less work
    chain._disconnect_tip()
    chain.close()
    reopened = kit.new_chain(path)
    assert reopened.tip_hash == kit.hash(main[-1])
    reopened.close()


def test_a_data_dir_of_another_network_is_refused(kit, tmp_path):
    path = tmp_path / "chain.sqlite"
    kit.new_chain(path).close()
    with pytest.raises(StoreError, match=f"holds the '{kit.params.name}' chain"):
        Chain("lab", path=path)


def test_a_corrupt_file_is_a_store_error(tmp_path):
    path = tmp_path / "chain.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="cannot open chain database"):
        Chain("regtest", path=path)


def test_store_uses_wal_journal(kit, tmp_path):
    path = tmp_path / "chain.sqlite"
    kit.new_chain(path).close()
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
