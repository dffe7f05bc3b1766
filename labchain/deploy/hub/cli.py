"""``labchain hub up|status|down|passwd|release|gather|return-feedback|lti-jwks``: the class server from the command line (docs/hub.md).

Exit codes: 0 done; 1 an error (the sentence says which key, port or image) or, for `status`, the
hub not running; 2 a usage error, as every labchain command.
"""
from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from labchain.deploy.hub.settings import HubError, default_state_dir, load_settings


def register(subparsers) -> None:
    parser = subparsers.add_parser("hub", help="the class server: JupyterHub with a testnet per student",
                                   description="The class server: JupyterHub, its proxy, a lab server "
                                               "and a private Docker testnet per student (docs/hub.md).")
    sub = parser.add_subparsers(dest="hub_command", metavar="ACTION")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--dir", type=Path, default=None,
                        help="state folder (default $LABCHAIN_HUB_DIR or ./var/hub)")

    up = sub.add_parser("up", parents=[common], help="start the proxy and the hub (checks first)")
    up.add_argument("--settings", type=Path, help="hub.yml with any of the settings in docs/hub.md")
    up.add_argument("--public-ip", help="address students connect to (default 127.0.0.1)")
    up.add_argument("--port", type=int, dest="public_port", help="public port (default 8000)")
    up.add_argument("--db-url", help="hub database URL, e.g. postgresql://user@host/db (default SQLite)")
    up.add_argument("--admin", action="append", dest="admin_users", help="an instructor's user name (repeatable)")
    up.set_defaults(func=_cmd_up)

    status = sub.add_parser("status", parents=[common], help="is it running, and whose servers are up")
    status.set_defaults(func=_cmd_status)

    down = sub.add_parser("down", parents=[common], help="stop the hub and the proxy")
    down.add_argument("--keep-proxy", action="store_true",
                      help="stop only the hub (a restart keeps students connected)")
    down.add_argument("--stop-servers", action="store_true",
                      help="also stop every lab server and its testnet (volumes are kept)")
    down.set_defaults(func=_cmd_down)

    passwd = sub.add_parser("passwd", parents=[common], help="set a student's password (local login)")
    passwd.add_argument("student", help="the student id (their hub user name)")
    passwd.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    passwd.set_defaults(func=_cmd_passwd)
    release = sub.add_parser("release", parents=[common],
                             help="put a lab's student version (COURSE/release/LAB) on the hub for "
                                  "students to fetch; no image rebuild")
    release.add_argument("course", type=Path, help="the course folder (labchain-grade init/generate)")
    release.add_argument("lab", help="the lab to release, e.g. 01-hashes-merkle")
    release.set_defaults(func=_cmd_release)
    gather = sub.add_parser("gather", help="copy every student's newest submission of each lab into "
                                           "OUT/<student>/<lab>/ for labchain-grade collect")
    gather.add_argument("out", type=Path, help="folder to fill (then: labchain-grade collect COURSE OUT)")
    gather.set_defaults(func=_cmd_gather)
    back = sub.add_parser("return-feedback", help="copy each student's feedback pages (labchain-grade "
                                                  "feedback) into that student's own feedback volume")
    back.add_argument("course", type=Path, help="the course folder (COURSE/feedback/<student>/<lab>/)")
    back.add_argument("labs", nargs="*", help="only these labs (default: all)")
    back.set_defaults(func=_cmd_return_feedback)
    jwks = sub.add_parser("lti-jwks", parents=[common],
                          help="print the tool's public key (JWKS) to register in the LMS (lti13)")
    jwks.set_defaults(func=_cmd_lti_jwks)
    parser.set_defaults(func=lambda args: parser.print_help() or 2)


def _state(args) -> Path:
    return args.dir or default_state_dir()


def _cmd_up(args) -> int:
    from labchain.deploy.hub.service import hub_up

    overrides = {k: getattr(args, k) for k in ("public_ip", "public_port", "db_url", "admin_users")}
    if args.dir is not None:
        overrides["state_dir"] = args.dir
    settings = load_settings(args.settings, **overrides)
    hub_up(settings)
    return 0


def _cmd_status(args) -> int:
    from labchain.deploy.hub.service import hub_status

    status = hub_status(_state(args))
    print(f"proxy: {'pid ' + str(status.proxy_pid) if status.proxy_pid else 'not running'}")
    print(f"hub:   {'pid ' + str(status.hub_pid) if status.hub_pid else 'not running'}"
          + (f" (JupyterHub {status.version}) at {status.url}" if status.version else ""))
    for user, state in sorted(status.servers.items()):
        print(f"  {user:<24} {state}")
    return 0 if status.running else 1


def _cmd_down(args) -> int:
    from labchain.deploy.hub.service import hub_down

    hub_down(_state(args), keep_proxy=args.keep_proxy, stop_servers=args.stop_servers)
    return 0


def _cmd_passwd(args) -> int:
    from labchain.deploy.hub.auth import set_password

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"new password for {args.student}: ")
        if getpass.getpass("again: ") != password:
            raise HubError("the two passwords differ; nothing changed", None)
    set_password(_state(args), args.student, password)
    print(f"password of {args.student} set")
    return 0


def _cmd_lti_jwks(args) -> int:
    import json

    from labchain.deploy.hub.lti import tool_jwks

    print(json.dumps(tool_jwks(_state(args)), indent=1))
    return 0


def _skipped(lines: list[str]) -> None:
    for line in lines:
        print(f"  skipped: {line}")


def _cmd_release(args) -> int:
    from labchain.deploy.hub.settings import read_state_settings
    from labchain.deploy.hub.volumes import release

    volume = read_state_settings(_state(args)).release_volume
    done = release(args.course, args.lab, volume)
    print(f"released {done.lab} ({len(done.files)} file(s){', replacing the earlier release' if done.replaced else ''}) "
          f"into volume {volume}: students fetch it with "
          f"`from labchain.deploy.hub.exchange import fetch; fetch({done.lab!r})`")
    return 0


def _cmd_gather(args) -> int:
    from labchain.deploy.hub.volumes import gather

    got = gather(args.out)
    for student, labs in sorted(got.found.items()):
        print(f"  {student:<24} " + ", ".join(f"{lab} (newest of {g.count} submission(s), {g.newest})"
                                              for lab, g in sorted(labs.items())))
    _skipped(got.skipped)
    print(f"{sum(map(len, got.found.values()))} submission(s) of {len(got.found)} student(s) in {args.out}")
    return 0


def _cmd_return_feedback(args) -> int:
    from labchain.deploy.hub.volumes import return_feedback

    got = return_feedback(args.course, args.labs or None)
    for student, labs in sorted(got.delivered.items()):
        print(f"  {student:<24} {', '.join(labs)}")
    _skipped(got.skipped)
    print(f"feedback returned to {len(got.delivered)} student(s)")
    return 0
