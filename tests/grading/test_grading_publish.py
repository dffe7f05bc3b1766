"""grading/publish.py without an LMS: URLs, score bodies and the errors raised before any request.
(Grades reaching a real loopback LTI platform: tests/docker/test_docker_hub_lti.py.)"""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from grading.cli import main
from grading.publish import PublishError, publish_scores, score_body, scores_url
from labchain.deploy.hub import HubSettings
from labchain.deploy.hub.service import _prepare_state

LTI = {"issuer": "https://lms.example.edu", "client_id": "tool-1", "authorize_url": "https://lms.example.edu/a",
       "jwks_endpoint": "https://lms.example.edu/jwks"}
DATA = {"labs": {"lab01": 10.0, "lab02": 5.0}, "students": {}}


def test_the_scores_url_keeps_the_line_items_query_string():
    assert scores_url("https://lms.example.edu/li/7") == "https://lms.example.edu/li/7/scores"
    assert scores_url("https://lms.example.edu/li/7/?type_id=3") == "https://lms.example.edu/li/7/scores?type_id=3"


def test_a_score_body_names_the_lms_user_and_a_final_grade():
    body = score_body("sub-1", 7.5, 10.0, datetime(2026, 1, 2, tzinfo=timezone.utc))
    assert body == {"userId": "sub-1", "scoreGiven": 7.5, "scoreMaximum": 10.0, "activityProgress": "Completed",
                    "gradingProgress": "FullyGraded", "timestamp": "2026-01-02T00:00:00.000+00:00"}


def test_publishing_says_why_before_any_request(tmp_path):
    with pytest.raises(PublishError, match="no class server was started"):
        publish_scores(DATA, tmp_path / "nohub")
    _prepare_state(HubSettings(state_dir=tmp_path / "local"))
    with pytest.raises(PublishError, match="does not use LTI"):
        publish_scores(DATA, tmp_path / "local")
    _prepare_state(HubSettings(state_dir=tmp_path / "lti", authenticator="lti13", lti=LTI))
    with pytest.raises(PublishError, match="no grades for lab.*lab09"):
        publish_scores(DATA, tmp_path / "lti", ["lab09"])
    with pytest.raises(PublishError, match="needs --lineitem LAB=URL for each of lab01, lab02"):
        publish_scores(DATA, tmp_path / "lti")
    with pytest.raises(PublishError, match="lti.token_url is missing"):
        publish_scores(DATA, tmp_path / "lti", ["lab01"])


def test_the_cli_refuses_a_lineitem_without_a_lab(tmp_path, capsys):
    assert main(["publish", "--lti", "--course", str(tmp_path), "--lineitem", "https://x"]) == 2
    assert "must be LAB=URL" in capsys.readouterr().err
