"""``tracetransaction`` of a mined contract creation on a real regtest-account node: the trace is
the constructor (``init``) replayed on the state before the transaction, with the gas, events,
storage and revert reason of the mined receipt; a source that never compiled is refused by name."""
from __future__ import annotations

import pytest

from labchain.core.params import get_params
from labchain.ledger.account import intrinsic_gas
from labchain.ledger.account.wallet import AccountWallet
from labchain.ledger.contracts.debugger import Debugger
from labchain.ledger.contracts.stdlib import source
from labchain.node.process import NodeProcess
from labchain.node.rpc import RpcError

PARAMS = get_params("regtest-account")
WALLET = AccountWallet(PARAMS)
ADDR = [str(a) for a in WALLET.addresses]
PICKY = "total = storage.value(int)\n\ndef init(n: int):\n    total.set(n)\n    require(n > 10, 'n must exceed 10')\n"


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    n = NodeProcess.start(tmp_path_factory.mktemp("A_trace_creation") / "n0", params="regtest-account")
    yield n
    n.stop()


def _mined_creation(node, src, args, value=0):
    sent = node.rpc.deploycontract(1, src, args, 2_000_000, value)
    node.rpc.generate(1)
    return sent["txid"], node.rpc.getreceipt(sent["txid"])


def test_a_mined_token_creation_traces_its_init_with_the_receipts_gas_and_storage(node):
    txid, receipt = _mined_creation(node, source("token"), ["Lab", "LAB", 500], value=7)
    trace = node.rpc.tracetransaction(txid)
    assert trace == node.rpc.tracetransaction(txid)                 # deterministic replay
    assert trace["function"] == "init" and trace["receipt_status"] == "success" and trace["result"]["success"]
    creation_data = WALLET.deploy(1, source("token"), ["Lab", "LAB", 500], 0, value=7).data
    assert trace["result"]["gas_used"] == receipt["gas_used"] - intrinsic_gas(creation_data, True)
    debugger = Debugger.from_json(trace, trace["source"])
    assert debugger.steps[0].function == "init" and debugger.steps[-1].op == "returned"
    assert debugger.storage_after["total"] == 500 and 500 in debugger.storage_after.values()
    assert [e.name for e in debugger.steps[-1].events] == ["Transfer"] and len(receipt["events"]) == 1
    assert node.rpc.getaccount(receipt["contract_address"])["balance"] == 7   # the replay changed nothing


def test_a_failed_constructor_is_traced_to_its_revert_point(node):
    txid, receipt = _mined_creation(node, PICKY, [3])
    assert receipt["status"] == "failed" and receipt["revert_reason"] == "n must exceed 10"
    trace = node.rpc.tracetransaction(txid)
    assert trace["receipt_status"] == "failed" and not trace["result"]["success"]
    assert trace["result"]["revert_reason"] == "n must exceed 10"
    debugger = Debugger.from_json(trace, trace["source"])
    assert debugger.revert_point is not None and debugger.revert_point.line == 5
    assert debugger.steps[-1].op == "reverted"


def test_a_creation_whose_source_never_compiled_is_refused_by_name(node):
    nonce = node.rpc.getaccount(ADDR[2])["pending_nonce"]
    txid = node.rpc.sendtransaction(WALLET.hex(WALLET.deploy(2, "def init(:\n", [], nonce)))
    node.rpc.generate(1)
    assert node.rpc.getreceipt(txid)["status"] == "failed"
    with pytest.raises(RpcError, match="created no contract, so there is no step to trace: its source does not compile"):
        node.rpc.tracetransaction(txid)
    assert node.rpc.getblockcount() > 0                            # the node is still answering
