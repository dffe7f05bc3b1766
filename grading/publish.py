"""Grade passback to the LMS: ``labchain-grade publish --lti`` (LTI Advantage AGS, docs/hub.md).

Terminology (IMS LTI Advantage, Assignment and Grade Services 2.0): a *line item* is one
column of the LMS gradebook, named by a URL; a *score* is POSTed to ``<line item>/scores`` as
``application/vnd.ims.lis.v1.score+json`` (``userId`` = the LMS ``sub``, ``scoreGiven``,
``scoreMaximum``, ``activityProgress``, ``gradingProgress``, ``timestamp``). The tool gets an
access token by the OAuth 2 client-credentials grant with a ``private_key_jwt`` assertion
(RFC 7523: a JWT signed RS256 by the tool's key, ``iss`` = ``sub`` = client id, ``aud`` = the
token URL), for the scope ``https://purl.imsglobal.org/spec/lti-ags/scope/score``.

Where things come from: scores from the course gradebook (``grading.export.collect_scores``,
after ``autograde``); the LMS user of each student and the line item of their last launch from
the class server's state folder (``lti-users.json``, written at each LTI launch,
``labchain.deploy.hub.lti``); the tool's private key from the same folder
(``secrets/lti-tool-key.pem``). So publishing runs where the hub runs, as the instructor who runs
the hub; the key is never copied into the course folder or a student's container.

Decision: direct HTTP (PyJWT + requests, both already installed with the ``[hub]`` extra) rather
than PyLTI1p3: the two requests of AGS fit in this module, and PyLTI1p3 would need its own tool
configuration and request adapters beside the hub's authenticator.

Each student is one item of a ``grading.batch`` run (``COURSE/exports/publish-lti-summary.json``):
a student who never launched from the LMS, or without a score for the lab, is skipped with the
reason; a refused POST fails that student only. A refused token request fails the whole step
(no student could be published) with the platform's answer.

Simplifications: no line-item creation or lookup (a lab maps to an existing line item, given
with ``--lineitem LAB=URL``, or the one of the student's launch when one lab is published); no
token caching across runs; no retry on 429/5xx (run the step again).
"""
from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from grading import batch
from grading.course import Course
from grading.errors import GradingError
from grading.export import collect_scores

SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class PublishError(GradingError):
    """Grades cannot be published to the LMS (settings, key, token or line item); says why."""


def scores_url(lineitem: str) -> str:
    """``<line item>/scores``, keeping a query string where the platform put one (Canvas, Moodle)."""
    parts = urlsplit(lineitem)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/scores"))


def client_assertion(private_key, kid: str, client_id: str, token_url: str) -> str:
    import jwt

    now = int(time.time())
    return jwt.encode({"iss": client_id, "sub": client_id, "aud": token_url, "iat": now,
                       "exp": now + 300, "jti": uuid.uuid4().hex},
                      private_key, algorithm="RS256", headers={"kid": kid})


def access_token(hub_dir: Path, lti: dict[str, str], timeout: float = 30) -> str:
    """An AGS score token from the platform (client credentials, signed with the tool's key)."""
    import requests

    from labchain.deploy.hub.lti import load_tool_key, public_jwk

    if not lti.get("token_url"):
        raise PublishError("the hub setting lti.token_url is missing; grade passback needs the "
                           "platform's OAuth2 token endpoint", lti)
    from labchain.deploy.hub.settings import HubError

    try:
        key = load_tool_key(hub_dir)
    except HubError as exc:
        raise PublishError(exc.message, exc.obj) from None
    form = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": client_assertion(key, public_jwk(key)["kid"], lti["client_id"],
                                                 lti["token_url"]),
            "scope": SCORE_SCOPE}
    try:
        reply = requests.post(lti["token_url"], data=form, timeout=timeout)
    except requests.RequestException as exc:
        raise PublishError(f"cannot reach the LMS token endpoint {lti['token_url']}: {exc}",
                           lti["token_url"]) from None
    if reply.status_code != 200:
        raise PublishError(f"the LMS refused the tool's token request ({reply.status_code} "
                           f"{reply.text[:200].strip()}); is the tool's key (labchain hub lti-jwks) "
                           "registered there?", reply.status_code)
    return reply.json()["access_token"]


def score_body(sub: str, score: float, max_score: float, now: datetime | None = None) -> dict:
    stamp = (now or datetime.now(timezone.utc)).isoformat(timespec="milliseconds")
    return {"userId": sub, "scoreGiven": score, "scoreMaximum": max_score,
            "activityProgress": "Completed", "gradingProgress": "FullyGraded", "timestamp": stamp}


def publish_scores(data: dict, hub_dir: str | Path, labs: list[str] | None = None,
                   lineitems: dict[str, str] | None = None,
                   summary_path: str | Path | None = None) -> batch.BatchSummary:
    """POST each (student, lab) score of ``data`` (``collect_scores``' shape) to its line item."""
    import requests

    from labchain.deploy.hub.lti import read_users
    from labchain.deploy.hub.settings import read_state_settings

    from labchain.deploy.hub.settings import HubError

    hub_dir = Path(hub_dir)
    try:
        settings = read_state_settings(hub_dir)
        users = read_users(hub_dir)
    except HubError as exc:
        raise PublishError(exc.message, exc.obj) from None
    if settings.authenticator != "lti13":
        raise PublishError(f"the class server in {hub_dir} does not use LTI (authenticator "
                           f"{settings.authenticator}); nothing to publish to", str(hub_dir))
    labs = list(labs or sorted(data["labs"]))
    unknown = [lab for lab in labs if lab not in data["labs"]]
    if unknown:
        raise PublishError(f"no grades for lab(s) {', '.join(unknown)} in the gradebook", unknown)
    lineitems = dict(lineitems or {})
    if len(labs) > 1 and set(labs) - set(lineitems):
        raise PublishError("publishing several labs needs --lineitem LAB=URL for each of "
                           f"{', '.join(sorted(set(labs) - set(lineitems)))}", labs)
    token = access_token(hub_dir, settings.lti)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": SCORE_TYPE}

    def one(item):
        student, lab = item
        user = users.get(student)
        if user is None:
            raise batch.Skip("never launched from the LMS (no LTI identity on the hub)")
        entry = data["students"].get(student, {}).get("labs", {}).get(lab)
        if entry is None:
            raise batch.Skip(f"no graded submission of {lab}")
        lineitem = lineitems.get(lab) or user.get("ags", {}).get("lineitem")
        if not lineitem:
            raise PublishError(f"no line item for {lab}: the launch carried none; give --lineitem", lab)
        body = score_body(user["sub"], entry["score"], entry["max_score"])
        reply = requests.post(scores_url(lineitem), data=json.dumps(body), headers=headers, timeout=30)
        if reply.status_code not in (200, 201, 204):
            raise PublishError(f"the LMS refused the score ({reply.status_code} "
                               f"{reply.text[:200].strip()})", reply.status_code)
        return batch.ItemResult(f"{lab}/{student}", "done",
                                detail={"lineitem": lineitem, "score": entry["score"]})

    items = [(student, lab) for lab in labs for student in sorted(users) + sorted(
        set(data["students"]) - set(users))]
    return batch.run("publish-lti", items, one, name=lambda it: f"{it[1]}/{it[0]}",
                     summary_path=summary_path)


def publish_lti(course: Course, hub_dir: str | Path, labs: list[str] | None = None,
                lineitems: dict[str, str] | None = None) -> batch.BatchSummary:
    """``labchain-grade publish --lti``: the course's scores to the LMS of the class server."""
    problems: dict[str, str] = {}
    data = collect_scores(course, problems)
    return publish_scores(data, hub_dir, labs, lineitems,
                          summary_path=course.dir("exports") / f"publish-lti{batch.SUMMARY_SUFFIX}")
