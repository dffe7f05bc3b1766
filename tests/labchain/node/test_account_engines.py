"""The account ledger under the message-passing engines (docs/accounts-on-engines.md): an
engine's account block is the same on every build and leaves invalid transactions out, a
proposal whose roots are not what executing it gives is refused saying why; on a real 3-node
raft-3-account testnet the stdlib token is deployed and used across nodes with the same
receipt, balance and state root everywhere, a bad transaction gets a clear error, a new leader
keeps committing account blocks after the old one is killed, and the restarted node catches up
with the same state root; a single solo-account node commits a transfer; on 4 real pbft-4-account
validators a token transfer has the same receipt, block hash, root and balance everywhere, each
node commits checked proposals without executing them again, and a killed replica catches up."""
from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest

from labchain.block import BlockHeader
from labchain.chain import Chain
from labchain.chain.account_model import AccountBlock
from labchain.chain.finality import build_block, seal
from labchain.core.config import load_config, preset_names
from labchain.ledger.account.wallet import AccountWallet
from labchain.ledger.contracts.stdlib import source
from labchain.node.consensus import NodeApplication
from labchain.node.process import NodeProcess
from labchain.node.rpc import RpcError
from labchain.testnet import Testnet

from tests.labchain.node.consensus_helpers import wait_all_at_least, wait_for

PARAMS = load_config("raft-3-account").params
WALLET = AccountWallet(PARAMS)
ADDR = [str(a) for a in WALLET.addresses]


# --- the presets ---------------------------------------------------------------------------

@pytest.mark.parametrize("name, engine", [("solo-account", "solo"), ("raft-3-account", "raft"),
                                          ("tbft-4-account", "tbft"), ("pbft-4-account", "pbft")])
def test_the_engine_account_presets_are_their_engine_presets_on_the_account_ledger(name, engine):
    config, twin, pow_twin = load_config(name), load_config(name.removesuffix("-account")), load_config("regtest-account")
    assert (config.chain_id, config.ledger, config.consensus) == (name, "account", engine)
    assert config.params.consensus == twin.params.consensus              # the engine's keys, unchanged
    assert config.params.with_changes(name=twin.params.name, ledger="utxo", genesis_memo=twin.params.genesis_memo) \
        == twin.params
    genesis = ("account_seed", "funded_accounts", "account_balance")
    assert [getattr(config.params, k) for k in genesis] == [getattr(pow_twin.params, k) for k in genesis]
    assert name in preset_names()


# --- in process: the model's engine path ---------------------------------------------------

@pytest.fixture
def chain():
    c = Chain(PARAMS, clock=lambda: PARAMS.genesis_timestamp + 10_000)
    yield c
    c.close()


def test_an_engine_account_block_is_the_same_on_every_build_and_leaves_invalid_txs_out(chain):
    later, first = WALLET.transfer(0, ADDR[1], 7, 1), WALLET.transfer(0, ADDR[1], 5, 0)
    used_up = WALLET.transfer(2, ADDR[3], PARAMS.account_balance, 0)        # value + gas > balance
    txs = [later, first, used_up]                        # one sender's nonces out of order
    block, dropped = build_block(chain, txs, WALLET.addresses[4])
    again, _ = build_block(chain, txs, WALLET.addresses[4])
    assert isinstance(block, AccountBlock) and block == again and dropped == 1
    assert list(block.transactions) == [first, later]
    assert str(block.proposer) == ADDR[4]
    assert chain.add_block(block).status == "new_tip"
    assert chain.ledger.store.state_root == block.state_root
    assert chain.ledger.store.state.balance(WALLET.addresses[1]) == PARAMS.account_balance + 12


def _resealed(block: AccountBlock, **changes) -> AccountBlock:
    forged = dataclasses.replace(block, **changes)
    header = BlockHeader(block.header.version, block.header.prev_hash, forged.compute_merkle_root(PARAMS.crypto),
                         block.header.timestamp, block.header.bits, 0)
    return forged.with_header(seal(header, PARAMS))


def test_a_proposal_whose_roots_execution_does_not_give_is_refused_saying_why(chain):
    app = NodeApplication(SimpleNamespace(chain=chain))
    block, _ = build_block(chain, [WALLET.transfer(0, ADDR[1], 5, 0)], WALLET.addresses[4])
    assert app.check(1, block.to_bytes()) is None
    forged = _resealed(block, state_root=bytes(32))        # a consistent header over a false root
    assert "claims state root 0000000000000000..." in app.check(1, forged.to_bytes())
    assert "but executing it gives" in app.check(1, forged.to_bytes())
    stolen = _resealed(block, proposer=WALLET.addresses[5])   # the reward credited to another account
    assert "claims state root" in app.check(1, stolen.to_bytes())
    assert app.check(1, b"\x01\x02").startswith("the value is not a account block")
    assert chain.height == 0 and chain.ledger.store.height == 0   # checking changed no state
    assert chain.add_block(block).status == "new_tip"


def test_a_proposal_replaying_a_used_nonce_is_refused_naming_the_transaction(chain):
    tx = WALLET.transfer(0, ADDR[1], 5, 0)
    first, _ = build_block(chain, [tx], WALLET.addresses[4])
    chain.add_block(first)
    replay = _resealed(dataclasses.replace(first, header=dataclasses.replace(first.header, prev_hash=chain.tip_hash)))
    reason = NodeApplication(SimpleNamespace(chain=chain)).check(2, replay.to_bytes())
    assert "transaction 0 of block 2" in reason and "nonce 0 was already used" in reason


# --- real processes: raft-3-account --------------------------------------------------------

def _receipt(node, txid):
    try:
        return node.rpc.getreceipt(txid)
    except RpcError:
        return None


def _receipts_everywhere(tn, txid, indexes=(0, 1, 2)):
    indexes = list(indexes)
    return wait_for(lambda: (r := [_receipt(tn.nodes[i], txid) for i in indexes]) and all(r) and r,
                    f"the receipt of {txid[:16]} on nodes {list(indexes)}", timeout=120)


def _state_roots_at(tn, height: int, indexes) -> set[str]:
    return {tn.nodes[i].rpc.getblock(height)["state_root"] for i in indexes}


@pytest.fixture(scope="module")
def raft(tmp_path_factory):
    tn = Testnet.start(nodes=3, topology="full", config="raft-3-account", dir=tmp_path_factory.mktemp("raftacct"))
    yield tn
    tn.down()


@pytest.fixture(scope="module")
def token(raft):
    assert raft.leader(timeout=60) is not None, "no Raft leader was elected"
    sent = raft.nodes[0].rpc.deploycontract(0, source("token"), ["Lab Coin", "LAB", 1000])
    receipts = _receipts_everywhere(raft, sent["txid"])
    assert receipts[0]["status"] == "success", receipts[0]
    return receipts[0]["contract_address"]


def test_a_token_transfer_sent_on_another_node_has_the_same_receipt_balance_and_root_everywhere(raft, token):
    wait_for(lambda: raft.nodes[2].rpc.getnonce(ADDR[0]) == 1, "node2 to see the deploy")
    sent = raft.nodes[2].rpc.sendcontract(0, token, "transfer", [{"address": ADDR[2]}, 40])
    receipts = _receipts_everywhere(raft, sent["txid"])
    assert receipts[0]["status"] == "success" and all(r == receipts[0] for r in receipts)
    (event,) = receipts[0]["events"]
    assert event["name"] == "Transfer" and event["contract"] == token
    height = receipts[0]["height"]
    wait_all_at_least(raft, [0, 1, 2], height)
    assert len(_state_roots_at(raft, height, [0, 1, 2])) == 1
    assert {raft.nodes[i].rpc.getblock(height)["header"]["hash"] for i in range(3)} == {receipts[0]["block_hash"]}
    for node in raft.nodes:
        assert node.rpc.callcontract(token, "balance_of", [{"address": ADDR[2]}])["return_value"] == 40


def test_a_bad_account_tx_over_rpc_gets_a_clear_error_and_the_node_keeps_committing(raft):
    rpc = raft.nodes[1].rpc
    with pytest.raises(RpcError, match="not a signed account transaction"):
        rpc.sendtransaction("00ff")
    rich = WALLET.transfer(7, ADDR[1], PARAMS.account_balance, rpc.getnonce(ADDR[7]))
    with pytest.raises(RpcError, match=r"needs 100000021000 \(value \+ gas_limit \* gas_price\)"):
        rpc.sendtransaction(WALLET.hex(rich))
    with pytest.raises(RpcError, match="sealed by raft consensus"):
        rpc.generate(1)
    txid = rpc.sendtransaction(WALLET.hex(WALLET.transfer(7, ADDR[8], 99, rpc.getnonce(ADDR[7]))))
    assert all(r["status"] == "success" for r in _receipts_everywhere(raft, txid))
    assert {n.rpc.getconsensusstate()["commit_failures"] for n in raft.nodes} == {0}


def test_a_new_leader_keeps_committing_account_blocks_and_the_restarted_node_catches_up(raft):
    leader = raft.leader(timeout=60)
    survivors = [i for i in range(3) if i != leader]
    raft.kill(leader)
    new_leader = wait_for(lambda: (l := raft.leader()) is not None and l != leader and l + 1,
                          "a new leader among the survivors", timeout=120) - 1
    assert new_leader in survivors
    rpc = raft.nodes[survivors[0]].rpc
    before = rpc.getbalance(ADDR[6])
    nonce = rpc.getnonce(ADDR[3])
    txids = [rpc.sendtransaction(WALLET.hex(WALLET.transfer(3, ADDR[6], 1000 + k, nonce + k))) for k in range(3)]
    for txid in txids:
        assert all(r["status"] == "success" for r in _receipts_everywhere(raft, txid, survivors))
    assert raft.nodes[survivors[1]].rpc.getbalance(ADDR[6]) == before + 3003
    top = max(raft.nodes[i].rpc.getblockcount() for i in survivors)
    wait_all_at_least(raft, survivors, top)

    raft.restart(leader)
    wait_all_at_least(raft, [leader], top)
    assert len(_state_roots_at(raft, top, [0, 1, 2])) == 1
    assert raft.nodes[leader].rpc.getbalance(ADDR[6]) == before + 3003
    proofs = wait_for(lambda: (p := [raft.nodes[i].rpc.getproof(ADDR[6]) for i in range(3)])
                      and len({q["height"] for q in p}) == 1 and p, "every node at the same tip")
    assert len({(p["block_hash"], p["state_root"]) for p in proofs}) == 1   # the same state everywhere
    assert {p["account"]["balance"] for p in proofs} == {before + 3003}


# --- real process: solo-account -----------------------------------------------------------

def test_a_single_solo_account_node_commits_a_transfer_with_a_receipt(tmp_path):
    params = load_config("solo-account").params
    wallet = AccountWallet(params)
    to = str(wallet.addresses[1])
    node = NodeProcess.start(tmp_path / "n0", params="solo-account")
    try:
        txid = node.rpc.sendtransaction(wallet.hex(wallet.transfer(0, to, 4321, 0)))
        receipt = wait_for(lambda: _receipt(node, txid), "the solo proposer to commit the transfer")
        assert receipt["status"] == "success"
        assert node.rpc.getbalance(to) == params.account_balance + 4321
        block = node.rpc.getblock(receipt["height"])
        assert block["state_root"] == node.rpc.getproof(to)["state_root"] or node.rpc.getblockcount() > receipt["height"]
        assert node.rpc.getconsensusstate()["role"] == "proposer"
    finally:
        node.stop()


# --- real processes: tbft-4-account (a BFT engine, no engine-specific account code) --------

def test_a_tbft_account_testnet_commits_a_contract_call_with_the_same_receipt_on_four_nodes(tmp_path):
    with Testnet.start(nodes=4, topology="full", config="tbft-4-account", dir=tmp_path / "net") as tn:
        sent = tn.nodes[3].rpc.deploycontract(1, source("token"), ["Lab Coin", "LAB", 500])
        receipts = _receipts_everywhere(tn, sent["txid"], range(4))
        assert receipts[0]["status"] == "success" and all(r == receipts[0] for r in receipts)
        height = receipts[0]["height"]
        wait_all_at_least(tn, range(4), height)
        assert len(_state_roots_at(tn, height, range(4))) == 1
        token = receipts[0]["contract_address"]
        assert {n.rpc.callcontract(token, "balance_of", [{"address": ADDR[1]}])["return_value"]
                for n in tn.nodes} == {500}


# --- real processes: pbft-4-account (FISCO BCOS's engine; each block executed once) --------

def test_a_pbft_account_testnet_commits_a_token_transfer_once_per_node_and_survives_a_replica_kill(tmp_path):
    with Testnet.start(nodes=4, topology="full", config="pbft-4-account", dir=tmp_path / "net") as tn:
        sent = tn.nodes[0].rpc.deploycontract(1, source("token"), ["Lab Coin", "LAB", 500])
        token = _receipts_everywhere(tn, sent["txid"], range(4))[0]["contract_address"]
        wait_for(lambda: tn.nodes[2].rpc.getnonce(ADDR[1]) == 1, "node2 to see the deploy")
        moved = tn.nodes[2].rpc.sendcontract(1, token, "transfer", [{"address": ADDR[2]}, 40])
        receipts = _receipts_everywhere(tn, moved["txid"], range(4))
        assert receipts[0]["status"] == "success" and all(r == receipts[0] for r in receipts)
        height = receipts[0]["height"]
        wait_all_at_least(tn, range(4), height)
        assert len(_state_roots_at(tn, height, range(4))) == 1
        assert {tn.nodes[i].rpc.getblock(height)["header"]["hash"] for i in range(4)} == {receipts[0]["block_hash"]}
        assert {n.rpc.callcontract(token, "balance_of", [{"address": ADDR[2]}])["return_value"]
                for n in tn.nodes} == {40}
        with pytest.raises(RpcError, match="not a signed account transaction"):
            tn.nodes[1].rpc.sendtransaction("00ff")
        for node in tn.nodes:                            # a checked proposal is not executed again
            executions = node.rpc.getconsensusstate()["executions"]
            assert executions.get("reused", 0) >= 1 and executions.get("reused", 0) >= executions.get("connect", 0)

        tn.kill(3)                                       # f = 1
        nonce = tn.nodes[0].rpc.getnonce(ADDR[5])
        wallet = AccountWallet(load_config("pbft-4-account").params)
        txid = tn.nodes[0].rpc.sendtransaction(wallet.hex(wallet.transfer(5, ADDR[6], 777, nonce)))
        top = _receipts_everywhere(tn, txid, range(3))[0]["height"]
        wait_all_at_least(tn, range(3), top)
        tn.restart(3)
        wait_all_at_least(tn, [3], top, timeout=180)
        assert len(_state_roots_at(tn, top, range(4))) == 1
        assert tn.nodes[3].rpc.getbalance(ADDR[6]) == tn.nodes[0].rpc.getbalance(ADDR[6])
