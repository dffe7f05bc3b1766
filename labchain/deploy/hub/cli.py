"""``labchain hub up|status|down|passwd|gather|lti-jwks``: the class server from the command line (docs/hub.md).

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
    gather = sub.add_parser("gather", help="copy every student's submissions into OUT/<student>/<lab>/ "
                                           "for labchain-grade collect")
    gather.add_argument("out", type=Path, help="folder to fill (then: labchain-grade collect COURSE OUT)")
    gather.set_defaults(func=_cmd_gather)
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


def _cmd_gather(args) -> int:
    from labchain.deploy.hub.exchange import gather

    found = gather(args.out)
    for student, labs in sorted(found.items()):
        print(f"  {student:<24} {', '.join(labs)}")
    print(f"{sum(map(len, found.values()))} submission(s) of {len(found)} student(s) in {args.out}")
    return 0
