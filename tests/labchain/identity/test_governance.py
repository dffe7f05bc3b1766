"""Config updates and member operations: sequence numbers, policies with traces, new configs."""
from __future__ import annotations

import re

import pytest

from labchain.identity import errors
from labchain.identity.governance import (ConfigChange, ConfigUpdate, ConsensusNode, ConsortiumConfig,
                                          apply_config_update, apply_member_op)
from labchain.identity.members import CERTS_FREEZE, TRUST_ROOT_ADD, TRUST_ROOT_DELETE, MemberOp
from labchain.identity.policy import Policy, endorse

BLOCK = "CHAIN_CONFIG-BLOCK_UPDATE"


@pytest.fixture
def config():
    return ConsortiumConfig("chain1", sequence=3, consensus_nodes=(ConsensusNode("org1", "consensus1"),))


def signed(consortium, message: bytes, *orgs, name="admin1"):
    out = []
    for org in orgs:
        member = consortium.org(org).member(name)
        out.append(endorse(message, member.key, member.certificate))
    return out


def block_update(sequence=4, interval="2000"):
    return ConfigUpdate("chain1", sequence, (ConfigChange(BLOCK, "block.block_interval", interval),))


def test_enough_admins_move_the_config_to_the_next_sequence(config, consortium, members, now):
    update = block_update()
    new = apply_config_update(config, update, signed(consortium, update.signing_bytes(), "org1", "org2", "org3"),
                              members, now)
    assert new.sequence == 4 and new.value("block.block_interval") == "2000"
    assert config.value("block.block_interval") is None      # the old config is unchanged (immutable)
    assert ConsortiumConfig.from_bytes(new.to_bytes()) == new


def test_too_few_admins_are_rejected_with_the_trace(config, consortium, members, now):
    update = block_update()
    endorsements = signed(consortium, update.signing_bytes(), "org1", "org2")
    endorsements += signed(consortium, update.signing_bytes(), "org3", name="client1")
    with pytest.raises(errors.PolicyError) as info:
        apply_config_update(config, update, endorsements, members, now)
    assert str(info.value) == (
        "CHAIN_CONFIG-BLOCK_UPDATE needs admin signatures from a majority (3) of 4 orgs (org1, org2, org3, org4); "
        "rejected: 2 of 3 counted (admin1.org1, admin1.org2); missing org3, org4; ignored client1.org3 "
        "(wrong role client, needs admin).")
    assert info.value.result.counted_orgs == ("org1", "org2")


def test_signatures_over_another_update_do_not_count(config, consortium, members, now):
    update, other = block_update(interval="2000"), block_update(interval="50")
    with pytest.raises(errors.PolicyError, match=re.escape("rejected: 0 of 3 counted")):
        apply_config_update(config, update, signed(consortium, other.signing_bytes(), "org1", "org2", "org3"),
                            members, now)


@pytest.mark.parametrize("sequence, why", [(3, "a stale or replayed proposal"), (2, "a stale or replayed proposal"),
                                           (6, "a proposal from the future")])
def test_the_sequence_must_be_current_plus_one(sequence, why, config, consortium, members, now):
    update = block_update(sequence)
    with pytest.raises(errors.ConfigUpdateError, match=re.escape(
            f"the config update carries sequence {sequence} but the chain config is at sequence 3, so the next "
            f"update must carry 4 ({why})")):
        apply_config_update(config, update, signed(consortium, update.signing_bytes(), "org1", "org2", "org3"),
                            members, now)


def test_an_accepted_update_cannot_be_replayed(config, consortium, members, now):
    update = block_update()
    endorsements = signed(consortium, update.signing_bytes(), "org1", "org2", "org3")
    new = apply_config_update(config, update, endorsements, members, now)
    with pytest.raises(errors.ConfigUpdateError, match="stale or replayed"):
        apply_config_update(new, update, endorsements, members, now)


def test_refusals_before_policies(config, members):
    with pytest.raises(errors.ConfigUpdateError, match="the config update is for chain 'other', this chain is 'chain1'"):
        apply_config_update(config, ConfigUpdate("other", 4, ()), [], members)
    with pytest.raises(errors.ConfigUpdateError, match="the config update has no changes"):
        apply_config_update(config, ConfigUpdate("chain1", 4, ()), [], members)
    with pytest.raises(errors.ConfigUpdateError, match="unknown resource 'CHAIN_CONFIG-EVERYTHING'"):
        apply_config_update(config, ConfigUpdate("chain1", 4, (ConfigChange("CHAIN_CONFIG-EVERYTHING", "x"),)),
                            [], members)


CANNOT_APPLY = [
    (ConfigChange(BLOCK, "consensus.type", "4"), "CHAIN_CONFIG-BLOCK_UPDATE cannot set 'consensus.type'; it sets "
                                                 "block.block_interval, block.block_tx_capacity"),
    (ConfigChange("CHAIN_CONFIG-NODE_ID_ADD", "org1", "consensus1"), "node consensus1 of org org1 is already a "
                                                                     "consensus node"),
    (ConfigChange("CHAIN_CONFIG-NODE_ID_DELETE", "org2", "consensus1"), "node consensus1 of org org2 is not a "
                                                                        "consensus node"),
    (ConfigChange("CHAIN_CONFIG-PERMISSION_UPDATE", "NO_SUCH", "ANY"), "cannot set a policy for unknown resource"),
    (ConfigChange("CERT_MANAGE-CERTS_FREEZE", "org1"), "'CERT_MANAGE-CERTS_FREEZE' is not a chain-config change"),
]


@pytest.mark.parametrize("change, message", CANNOT_APPLY)
def test_changes_that_cannot_apply(change, message, config, consortium, members, now):
    update = ConfigUpdate("chain1", 4, (change,))
    endorsements = signed(consortium, update.signing_bytes(), "org1", "org2", "org3", "org4")
    with pytest.raises(errors.ConfigUpdateError, match=re.escape(message)):
        apply_config_update(config, update, endorsements, members, now)


def test_node_membership_and_policy_changes(config, consortium, members, now):
    update = ConfigUpdate("chain1", 4, (
        ConfigChange("CHAIN_CONFIG-NODE_ID_ADD", "org2", "consensus1"),
        ConfigChange("CHAIN_CONFIG-NODE_ID_DELETE", "org1", "consensus1"),
        ConfigChange("CHAIN_CONFIG-PERMISSION_UPDATE", BLOCK, "ALL||admin")))
    new = apply_config_update(config, update, signed(consortium, update.signing_bytes(), "org1", "org2", "org3"),
                              members, now)
    assert new.consensus_nodes == (ConsensusNode("org2", "consensus1"),)
    assert new.policy_for(BLOCK) == Policy("ALL", (), ("admin",))
    # the new policy applies to the next update: three admins no longer suffice
    nxt = block_update(sequence=5)
    with pytest.raises(errors.PolicyError, match=re.escape("admin signatures from all 4 orgs")):
        apply_config_update(new, nxt, signed(consortium, nxt.signing_bytes(), "org1", "org2", "org3"), members, now)
    done = apply_config_update(new, nxt, signed(consortium, nxt.signing_bytes(), "org1", "org2", "org3", "org4"),
                               members, now)
    assert done.sequence == 5


def test_member_ops_need_their_policy(config, consortium, members, now):
    cert = consortium.org("org3").member("client1").certificate
    freeze = MemberOp(CERTS_FREEZE, "org3", cert.der)
    frozen = apply_member_op(members, freeze, signed(consortium, freeze.signing_bytes(), "org1"), config, now)
    assert cert.fingerprint in frozen.frozen
    remove = MemberOp(TRUST_ROOT_DELETE, "org4", consortium.org("org4").ca_certificate.der)
    with pytest.raises(errors.PolicyError, match=re.escape(
            "CHAIN_CONFIG-TRUST_ROOT_DELETE needs admin signatures from a majority (3) of 4 orgs")):
        apply_member_op(members, remove, signed(consortium, remove.signing_bytes(), "org1", "org2"), config, now)
    smaller = apply_member_op(members, remove, signed(consortium, remove.signing_bytes(), "org1", "org2", "org3"),
                              config, now)
    assert smaller.orgs() == ("org1", "org2", "org3")
    # a signature on the config update bytes is not a signature on a member op
    add = MemberOp(TRUST_ROOT_ADD, "org4", consortium.org("org4").ca_certificate.der)
    with pytest.raises(errors.PolicyError, match="bad signature"):
        apply_member_op(smaller, add, signed(consortium, block_update().signing_bytes(), "org1", "org2"), config, now)


def test_config_records_round_trip(config):
    update = block_update()
    assert ConfigUpdate.from_bytes(update.to_bytes()) == update and ConfigUpdate.from_json(update.to_json()) == update
    assert update.signing_bytes().startswith(b"labchain/config-update\x00")
    assert ConsortiumConfig.from_json(config.to_json()) == config
    with pytest.raises(errors.ConfigUpdateError, match="unknown auth_type 'permissionedWithCert'"):
        ConsortiumConfig("c", auth_type="permissionedWithCert")


@pytest.mark.parametrize("change, chinese", list(zip([c for c, _ in CANNOT_APPLY], [
    "不能设置 'consensus.type'；它能设置的是", "已经是共识节点", "不是共识节点", "不能为未知资源 'NO_SUCH' 设置策略",
    "不是链配置变更；配置更新只能包含"])))
def test_a_change_that_cannot_apply_is_explained_in_chinese(change, chinese, config, consortium, members, now,
                                                             monkeypatch):
    monkeypatch.setenv("LABCHAIN_LANG", "zh-CN")
    update = ConfigUpdate("chain1", 4, (change,))
    endorsements = signed(consortium, update.signing_bytes(), "org1", "org2", "org3", "org4")
    with pytest.raises(errors.ConfigUpdateError) as info:
        apply_config_update(config, update, endorsements, members, now)
    assert chinese in str(info.value)


@pytest.mark.parametrize("update, chinese", [
    (ConfigUpdate("other", 4, ()), "这次配置更新是给链 'other' 的，本链是 'chain1'"),
    (ConfigUpdate("chain1", 4, ()), "这次配置更新没有任何变更"),
    (block_update(3), "下一次更新必须带序号 4（这是过期或重放的提案）"),
    (block_update(6), "（这是来自未来的提案）"),
    (ConfigUpdate("chain1", 4, (ConfigChange("CHAIN_CONFIG-EVERYTHING", "x"),)), "未知资源 'CHAIN_CONFIG-EVERYTHING'；"),
])
def test_a_config_update_refused_before_its_policy_is_explained_in_chinese(update, chinese, config, members,
                                                                            monkeypatch):
    monkeypatch.setenv("LABCHAIN_LANG", "zh-CN")
    with pytest.raises(errors.ConfigUpdateError) as info:
        apply_config_update(config, update, [], members)
    assert chinese in str(info.value)
