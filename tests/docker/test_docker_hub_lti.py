"""LTI 1.3 against the real class server: a test LMS platform (tests/docker/ltiplatform.py) on
loopback launches into configurable-http-proxy + JupyterHub with ``authenticator: lti13``
(docs/hub.md, "LTI 1.3"). No server is spawned here (test_docker_hub.py covers spawning);
these tests check who gets in, under which student id, and who does not.
"""
from __future__ import annotations

import json
import shutil

import pytest

from labchain.deploy.hub import HubSettings
from labchain.deploy.hub.lti import read_users, student_id, tool_jwks, users_file
from labchain.deploy.hub.service import api, hub_down, hub_up
from labchain.testnet.docker import STUDENT_ID

from ltiplatform import Platform, launch
from needs import require, unavailable

pytestmark = pytest.mark.long      # a real hub with LTI launches: `make test-long`


@pytest.fixture(scope="module")
def platform():
    with Platform() as lms:
        yield lms


@pytest.fixture(scope="module")
def lti_hub(tmp_path_factory, docker_client, lab_image, platform):
    require("root")
    if shutil.which("configurable-http-proxy") is None:
        unavailable("docker", "configurable-http-proxy is not installed (.ci/system-setup.sh installs it)")
    settings = HubSettings(state_dir=tmp_path_factory.mktemp("ltihub"), public_port=18300,
                           proxy_api_port=18301, hub_port=18381, image=lab_image.tag,
                           authenticator="lti13", lti=platform.lti_settings)
    hub_up(settings, log=lambda line: None)
    platform.tool_jwks = tool_jwks(settings.state_dir)   # the instructor registers the tool's key
    yield settings
    hub_down(settings.state_dir, stop_servers=True, log=lambda line: None)


def salt(settings) -> str:
    return (settings.state_dir / "secrets" / "lti-salt").read_text().strip()


def hub_user(settings, name):
    try:
        return api(settings, "GET", f"/users/{name}")
    except Exception:  # noqa: BLE001 - the hub answers 404 for a user it does not know
        return None


def test_a_launch_logs_the_lms_user_in_under_a_hashed_student_id(lti_hub, platform):
    reply = launch(lti_hub.public_url, platform, "3f9a-lms-user-0001")
    assert reply.status_code == 302, reply.text[:500]
    name = student_id(platform.issuer, "3f9a-lms-user-0001", salt(lti_hub))
    assert STUDENT_ID.match(name) and name.startswith("u") and len(name) == 17
    home = reply.session.get(f"{lti_hub.public_url}/hub/home", allow_redirects=False, timeout=30)
    assert home.status_code == 200 and name in home.text
    assert hub_user(lti_hub, name)["name"] == name
    entry = read_users(lti_hub.state_dir)[name]   # the way back to the LMS user, hub side only
    assert entry["sub"] == "3f9a-lms-user-0001" and entry["iss"] == platform.issuer
    assert entry["ags"]["lineitem"] == platform.lineitem(1) and entry["context"] == "course-42"
    assert oct(users_file(lti_hub.state_dir).stat().st_mode & 0o777) == "0o600"
    # the same LMS user comes back as the same student; another one is another student
    again = launch(lti_hub.public_url, platform, "3f9a-lms-user-0001")
    assert again.status_code == 302
    other = launch(lti_hub.public_url, platform, "3f9a-lms-user-0002")
    assert other.status_code == 302
    assert student_id(platform.issuer, "3f9a-lms-user-0002", salt(lti_hub)) in read_users(lti_hub.state_dir)
    assert len({name, student_id(platform.issuer, "3f9a-lms-user-0002", salt(lti_hub))}) == 2


def test_an_id_token_with_a_forged_signature_is_refused(lti_hub, platform):
    platform.forge_next = True
    reply = launch(lti_hub.public_url, platform, "forger-0001")
    assert reply.status_code == 400
    assert "Signature verification failed" in reply.text
    assert hub_user(lti_hub, student_id(platform.issuer, "forger-0001", salt(lti_hub))) is None
    assert "hub-session-id" not in reply.session.cookies and "jupyterhub-session-id" not in reply.session.cookies


def test_an_id_token_for_an_unknown_client_id_is_refused(lti_hub, platform):
    platform.audience_next = "some-other-tool"
    reply = launch(lti_hub.public_url, platform, "stranger-0001")
    assert reply.status_code == 401
    assert hub_user(lti_hub, student_id(platform.issuer, "stranger-0001", salt(lti_hub))) is None


def test_the_tool_key_stays_in_the_hub_state_folder(lti_hub):
    key = lti_hub.state_dir / "secrets" / "lti-tool-key.pem"
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    published = json.dumps(tool_jwks(lti_hub.state_dir))
    assert '"d"' not in published and '"kty": "RSA"' in published     # public half only


def course_scores(settings, platform, subs_scores: dict[str, float]) -> dict:
    """Scores shaped as ``grading.export.collect_scores`` returns them, for launched LMS users."""
    students = {student_id(platform.issuer, sub, salt(settings)): {"labs": {"lab01": {
        "score": score, "max_score": 10.0}}} for sub, score in subs_scores.items()}
    students["s-never-launched"] = {"labs": {"lab01": {"score": 3.0, "max_score": 10.0}}}
    return {"labs": {"lab01": 10.0}, "students": students}


def test_published_grades_arrive_at_the_line_item_with_the_right_user_and_score(lti_hub, platform):
    from grading.publish import publish_scores

    for sub in ("pub-0001", "pub-0002"):
        assert launch(lti_hub.public_url, platform, sub).status_code == 302
    platform.scores.clear()
    summary = publish_scores(course_scores(lti_hub, platform, {"pub-0001": 7.5, "pub-0002": 10.0}),
                             lti_hub.state_dir, ["lab01"])
    got = {s["score"]["userId"]: s for s in platform.scores}
    assert set(got) == {"pub-0001", "pub-0002"}                     # LMS subs, not hashed ids
    assert got["pub-0001"]["score"]["scoreGiven"] == 7.5 and got["pub-0001"]["score"]["scoreMaximum"] == 10.0
    assert got["pub-0002"]["score"]["scoreGiven"] == 10.0
    assert got["pub-0001"]["score"]["gradingProgress"] == "FullyGraded"
    assert {s["lineitem"] for s in platform.scores} == {platform.lineitem(1)}
    statuses = {r.item: r.status for r in summary.results}
    assert statuses["lab01/s-never-launched"] == "skipped"
    assert summary.counts()["done"] == 2 and summary.exit_code == 0
    # an explicit line item wins over the launch's
    platform.scores.clear()
    publish_scores(course_scores(lti_hub, platform, {"pub-0001": 8.0}), lti_hub.state_dir, ["lab01"],
                   {"lab01": platform.lineitem(7)})
    assert {(s["lineitem"], s["score"]["userId"]) for s in platform.scores} >= {(platform.lineitem(7), "pub-0001")}


def test_a_tool_key_the_platform_does_not_know_gets_no_token_and_posts_nothing(lti_hub, platform):
    from grading.publish import PublishError, publish_scores
    from labchain.deploy.hub.lti import public_jwk
    from cryptography.hazmat.primitives.asymmetric import rsa

    assert launch(lti_hub.public_url, platform, "pub-0003").status_code == 302
    registered = platform.tool_jwks
    platform.tool_jwks = {"keys": [dict(public_jwk(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
                                        kid=registered["keys"][0]["kid"])]}
    platform.scores.clear()
    refusals = platform.token_refusals
    try:
        with pytest.raises(PublishError, match="refused the tool's token request \\(401"):
            publish_scores(course_scores(lti_hub, platform, {"pub-0003": 5.0}), lti_hub.state_dir, ["lab01"])
    finally:
        platform.tool_jwks = registered
    assert platform.token_refusals == refusals + 1 and platform.scores == []
