"""LTI 1.3 pieces that need no hub: student ids, settings checks, the tool key, the user map.
(The launches themselves run against a real hub in tests/docker/test_docker_hub_lti.py.)"""
from __future__ import annotations

import json

import pytest

from labchain.deploy.hub import HubSettings
from labchain.deploy.hub.lti import (LtiError, ensure_tool_key, load_tool_key, read_users,
                                     record_launch, student_id, tool_jwks)
from labchain.deploy.hub.settings import HubConfigError
from labchain.testnet.docker import STUDENT_ID

LTI = {"issuer": "https://lms.example.edu", "client_id": "tool-1",
       "authorize_url": "https://lms.example.edu/auth", "jwks_endpoint": "https://lms.example.edu/jwks"}


def test_a_student_id_is_a_valid_testnet_name_stable_and_depends_on_iss_sub_and_salt():
    name = student_id("https://lms.example.edu", "user@example.edu", "salt")
    assert STUDENT_ID.match(name) and len(name) == 17 and name[0] == "u"
    assert name == student_id("https://lms.example.edu", "user@example.edu", "salt")
    assert len({name, student_id("https://other.example.edu", "user@example.edu", "salt"),
                student_id("https://lms.example.edu", "user2@example.edu", "salt"),
                student_id("https://lms.example.edu", "user@example.edu", "pepper")}) == 4
    with pytest.raises(LtiError):
        student_id("https://lms.example.edu", "", "salt")


def test_lti13_settings_name_a_missing_or_unknown_key(tmp_path):
    assert HubSettings(state_dir=tmp_path, authenticator="lti13", lti=LTI).lti == LTI
    with pytest.raises(LtiError, match="lti.jwks_endpoint is missing"):
        HubSettings(state_dir=tmp_path, authenticator="lti13",
                    lti={k: v for k, v in LTI.items() if k != "jwks_endpoint"})
    with pytest.raises(LtiError, match="unknown lti setting.*secret"):
        HubSettings(state_dir=tmp_path, authenticator="lti13", lti=dict(LTI, secret="x"))
    with pytest.raises(HubConfigError, match="allowed: local, lti13"):
        HubSettings(state_dir=tmp_path, authenticator="lti11")


def test_the_tool_key_is_private_to_the_state_folder_and_published_as_its_public_half(tmp_path):
    path = ensure_tool_key(tmp_path)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert ensure_tool_key(tmp_path) == path and load_tool_key(tmp_path).key_size == 2048
    jwks = tool_jwks(tmp_path)
    assert jwks == tool_jwks(tmp_path) and set(jwks["keys"][0]) == {"kty", "n", "e", "kid", "alg", "use"}
    with pytest.raises(LtiError, match="no LTI tool key"):
        tool_jwks(tmp_path / "elsewhere")


def test_a_launch_is_recorded_with_its_line_item_and_read_back(tmp_path):
    token = {"iss": "https://lms.example.edu", "sub": "42",
             "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint": {
                 "lineitem": "https://lms.example.edu/li/1", "scope": ["s"], "extra": 1},
             "https://purl.imsglobal.org/spec/lti/claim/context": {"id": "c1", "label": "L"}}
    record_launch(tmp_path, "u0123456789abcdef", token)
    record_launch(tmp_path, "u0000000000000000", dict(token, sub="43"))
    users = read_users(tmp_path)
    assert users["u0123456789abcdef"] == {"iss": "https://lms.example.edu", "sub": "42", "context": "c1",
                                          "ags": {"lineitem": "https://lms.example.edu/li/1", "scope": ["s"]}}
    assert users["u0000000000000000"]["sub"] == "43"
    (tmp_path / "lti-users.json").write_text(json.dumps(["not", "a", "map"]))
    with pytest.raises(LtiError, match="must map student ids"):
        read_users(tmp_path)
