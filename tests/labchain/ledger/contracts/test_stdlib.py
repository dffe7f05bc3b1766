"""The standard contracts: token, collectible (数字藏品), evidence store (存证), traceability."""
from __future__ import annotations

import hashlib

import pytest
from vmkit import ALICE, BOB, CAROL

from labchain.ledger.contracts.errors import ContractCallError
from labchain.ledger.contracts.stdlib import NAMES, load, source

DOC = hashlib.sha256(b"contract scan.pdf").digest()


@pytest.mark.parametrize("name", NAMES)
def test_every_standard_contract_compiles_and_lists_public_functions(name):
    program = load(name)
    assert program.functions and all(not f.startswith("_") and f != "init" for f in program.functions)
    assert program.code_hash == hashlib.sha256(source(name).encode()).digest()


def test_unknown_standard_contract_is_refused_by_name():
    with pytest.raises(ContractCallError, match="no standard contract 'nft'"):
        source("nft")


# -- token ----------------------------------------------------------------------------------

def test_token_allowance_lets_a_spender_move_at_most_the_approved_amount(chain):
    token = chain.deploy(load("token"), "Lab", "LAB", 1000)
    assert token.ok("approve", BOB, 300) is True
    assert token.ok("allowance", ALICE, BOB) == 300
    token.ok("transfer_from", ALICE, CAROL, 200, sender=BOB)
    assert token.fails("transfer_from", ALICE, CAROL, 200, sender=BOB).revert_reason == \
        "allowance 100 is less than 200"
    assert token.ok("balance_of", CAROL) == 200 and token.ok("allowance", ALICE, BOB) == 100
    assert token.ok("total_supply") == 1000 and token.ok("symbol") == "LAB"


def test_token_refuses_zero_and_wrongly_typed_amounts(chain):
    token = chain.deploy(load("token"), "Lab", "LAB", 10)
    assert token.fails("transfer", BOB, 0).revert_reason == "amount must be positive"
    assert token.fails("transfer", BOB, True).revert_reason == "argument 'amount' of transfer() must be int, not bool"


# -- collectible ------------------------------------------------------------------------------

def test_collectible_mint_transfer_and_ownership(chain):
    nft = chain.deploy(load("collectible"), "Dunhuang murals", True)
    token_id = nft.ok("mint", BOB, "ipfs://mural-1", DOC)
    assert token_id == 1 and nft.ok("owner_of", 1) == BOB and nft.ok("balance_of", BOB) == 1
    assert nft.fails("mint", BOB, "x", DOC, sender=BOB).revert_reason == "only the issuer may mint"
    assert nft.fails("transfer", CAROL, 1, sender=CAROL).revert_reason == "not the owner or its approved operator"
    result = nft.call("transfer", CAROL, 1, sender=BOB)
    assert result.success and result.events[0].fields == {"token_id": 1, "sender": BOB, "to": CAROL}
    info = nft.ok("token_info", 1)
    assert info["owner"] == CAROL and info["hash"] == DOC and info["height"] == chain.height


def test_collectible_approved_operator_can_transfer_once(chain):
    nft = chain.deploy(load("collectible"), "c", True)
    nft.ok("mint", BOB, "u", DOC)
    nft.ok("approve", CAROL, 1, sender=BOB)
    nft.ok("transfer", ALICE, 1, sender=CAROL)
    assert nft.ok("owner_of", 1) == ALICE
    assert nft.fails("transfer", CAROL, 1, sender=CAROL).success is False   # approval cleared


def test_non_transferable_collection_only_returns_to_the_issuer(chain):
    nft = chain.deploy(load("collectible"), "c", False)
    nft.ok("mint", BOB, "u", DOC)
    assert nft.fails("transfer", CAROL, 1, sender=BOB).revert_reason == "this collection does not allow transfers"
    nft.ok("transfer", ALICE, 1, sender=BOB)
    assert nft.fails("owner_of", 9).revert_reason == "token 9 does not exist"


# -- evidence ----------------------------------------------------------------------------------

def test_evidence_records_submitter_height_and_time_and_refuses_resubmission(chain):
    store = chain.deploy(load("evidence"))
    assert store.ok("submit", DOC, "signed lease", sender=BOB) == 1
    record = store.ok("verify", DOC)
    assert record == {"submitter": BOB, "height": chain.height, "timestamp": chain.timestamp,
                      "note": "signed lease", "serial": 1}
    assert store.ok("verify_document", b"contract scan.pdf") == record
    assert store.fails("submit", DOC, "again", sender=CAROL).revert_reason == "this digest was already submitted"
    assert store.ok("verify", hashlib.sha256(b"other").digest()) == {}
    assert store.ok("submissions_of", BOB) == [DOC] and store.ok("total") == 1
    assert store.fails("submit", b"short", "x").revert_reason.startswith("digest must be")


# -- traceability --------------------------------------------------------------------------------

def test_traceability_custody_chain_across_organisations(chain):
    FARM, MILL, SHOP = b"\x01" * 20, b"\x02" * 20, b"\x03" * 20
    reg = chain.deploy(load("traceability"))
    reg.ok("register_org", FARM, "Tea farm", "producer")
    reg.ok("register_org", MILL, "Tea processor", "processor")
    reg.ok("register_org", SHOP, "Tea shop", "retailer")
    assert reg.fails("register_org", BOB, "x", "y", sender=BOB).revert_reason.startswith("only the registry")
    reg.ok("create_product", "LOT-1", "Longjing 2026", "Hangzhou", DOC, sender=FARM)
    reg.ok("hand_over", "LOT-1", MILL, "Hangzhou", DOC, sender=FARM)
    assert reg.fails("accept", "LOT-1", "x", DOC, sender=SHOP).revert_reason == "this product is not being handed to you"
    assert reg.ok("custodian", "LOT-1") == FARM
    reg.ok("accept", "LOT-1", "Shaoxing", DOC, sender=MILL)
    reg.ok("hand_over", "LOT-1", SHOP, "Shaoxing", DOC, sender=MILL)
    reg.ok("accept", "LOT-1", "Shanghai", DOC, sender=SHOP)
    history = reg.ok("trace_product", "LOT-1")
    assert [(s["org_name"], s["action"].split(" ")[0]) for s in history] == [
        ("Tea farm", "created"), ("Tea farm", "handed"), ("Tea processor", "accepted"),
        ("Tea processor", "handed"), ("Tea shop", "accepted")]
    assert reg.ok("custodian", "LOT-1") == SHOP
    assert reg.fails("hand_over", "LOT-1", FARM, "x", DOC, sender=FARM).revert_reason.startswith("only the current")
