"""Live-chain checks against a real local testnet; results land in the gradebook."""
from __future__ import annotations

import csv

import pytest
from grading_kit import FIXTURES, TEST_LIMITS, scores

from grading import api
from grading.checks import load_checks
from grading.errors import CourseError

CHAIN_LABS = FIXTURES / "chain-labs"


def test_checks_yaml_is_validated_with_clear_errors(tmp_path):
    notebook, checks = load_checks(CHAIN_LABS / "lab-chain")
    assert notebook == "lab-chain" and [c.grade_id for c in checks] == ["chain_funded", "chain_memo_deep"]
    assert load_checks(tmp_path) == (tmp_path.name, [])
    (tmp_path / "checks.yaml").write_text("checks:\n  - grade_id: x\n    method: sendtoaddress\n")
    with pytest.raises(CourseError, match="read-only methods"):
        load_checks(tmp_path)
    (tmp_path / "checks.yaml").write_text("checks:\n  - grade_id: x\n    method: getbalance\n"
                                          "    expect: {'.': {almost: 3}}\n")
    with pytest.raises(CourseError, match="unknown operator"):
        load_checks(tmp_path)


@pytest.mark.slow
def test_checks_on_a_real_testnet_are_stored_as_grades(tmp_path):
    from labchain.testnet import Testnet
    from labchain.wallet import Wallet

    course = api.init(tmp_path / "course", CHAIN_LABS, copy=True)
    api.generate(course)
    with Testnet.start(nodes=1, dir=tmp_path / "net") as tn:
        rpc = tn.nodes[0].rpc
        accounts = [a["address"] for a in rpc.listaccounts()]
        rpc.generate(1, accounts[0])
        ann_tx = rpc.sendtoaddress(accounts[0], accounts[1], 1000, "hello")
        rpc.generate(6)
        bob_tx = rpc.sendtoaddress(accounts[0], accounts[1], 1000, "hello")
        rpc.generate(2)
        ann_key = rpc.gettransaction(ann_tx)["tx"]["inputs"][0]["pubkey"]
        stranger = str(Wallet.from_seed("not funded", count=1).addresses[0])
        url = tn.nodes[0].rpc_url
        endpoints = tmp_path / "endpoints.csv"
        with endpoints.open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["student", "rpc", "address", "txid", "pubkey"])
            w.writerow(["ann", url, accounts[0], ann_tx, ann_key])
            w.writerow(["bob", url, stranger, bob_tx, ann_key])
            w.writerow(["carol", url, accounts[0], ann_tx, "02" + "ab" * 32])
            w.writerow(["dave", "http://127.0.0.1:9/", accounts[0], ann_tx, ann_key])
        results = api.run_checks(course, "lab-chain", endpoints)

    assert {s: {g: ok for g, (ok, _) in r.items()} for s, r in results.items()} == {
        "ann": {"chain_funded": True, "chain_memo_deep": True},
        "bob": {"chain_funded": False, "chain_memo_deep": False},
        "carol": {"chain_funded": True, "chain_memo_deep": False},
        "dave": {"chain_funded": False, "chain_memo_deep": False},
    }
    assert "confirmations is 2, expected ge 6" in results["bob"]["chain_memo_deep"][1]
    assert "cannot call getbalance" in results["dave"]["chain_funded"][1]
    assert scores(course) == {("lab-chain", "ann"): 5.0, ("lab-chain", "bob"): 0.0,
                              ("lab-chain", "carol"): 2.0, ("lab-chain", "dave"): 0.0}

    # autograding the notebook afterwards leaves the check cells' scores alone
    sub = course.submitted("lab-chain", "ann", "lab-chain")
    sub.parent.mkdir(parents=True)
    sub.write_bytes(course.release("lab-chain", "lab-chain").read_bytes())
    api.autograde(course, sandbox="os", workers=1, limits=TEST_LIMITS)
    assert scores(course)[("lab-chain", "ann")] == 5.0
