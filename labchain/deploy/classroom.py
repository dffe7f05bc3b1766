"""``labchain class up|status|down``: a private Docker testnet for every student of a roster.

A *roster* is a CSV file with a header row naming at least a ``student`` column (ids such as
``s001``); other columns (name, email...) are kept but unused. Blank lines and lines starting
with ``#`` are skipped.

Every command is idempotent and works student by student in parallel: ``class up`` twice
changes nothing; a student that fails is reported at the end and does not stop the others.
Problems found before anything starts -- a malformed roster row, a missing image, too few free
subnets for the roster -- stop the command with a clear error and create nothing.
"""
from __future__ import annotations

import argparse
import csv
import sys
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from labchain.core.errors import LabchainError
from labchain.deploy.images import require_image
from labchain.testnet import docker as backend


class RosterError(LabchainError, ValueError):
    """A roster file that cannot be read; the message names the line."""


@dataclass(frozen=True, slots=True)
class Student:
    id: str
    line: int
    extra: tuple[tuple[str, str], ...] = ()


@dataclass(slots=True)
class ClassResult:
    """What a class-wide command did: per-student success or the error message."""

    done: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed


def read_roster(path: str | Path) -> list[Student]:
    """Parse and check the whole roster before anything is created."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise RosterError(f"cannot read the roster {path}: {exc.strerror}", str(path)) from None
    lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1)
             if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise RosterError(f"the roster {path} is empty", str(path))
    rows = list(csv.reader([line for _, line in lines]))
    header = [h.strip().lower() for h in rows[0]]
    if "student" not in header:
        raise RosterError(f"{path}:{lines[0][0]}: the header row needs a 'student' column "
                          f"(found: {', '.join(header) or 'nothing'})", str(path))
    column = header.index("student")
    students: list[Student] = []
    first_seen: dict[str, int] = {}
    for (number, _), row in zip(lines[1:], rows[1:]):
        where = f"{path}:{number}"
        if len(row) != len(header):
            raise RosterError(f"{where}: expected {len(header)} fields ({', '.join(header)}), "
                              f"found {len(row)}", row)
        sid = row[column].strip()
        try:
            backend.check_student(sid)
        except backend.StudentNameError as exc:
            raise RosterError(f"{where}: {exc}", row) from None
        if sid in first_seen:
            raise RosterError(f"{where}: student {sid} is listed twice (first on line "
                              f"{first_seen[sid]})", row)
        first_seen[sid] = number
        extra = tuple((h, v.strip()) for h, v in zip(header, row) if h != "student")
        students.append(Student(sid, number, extra))
    if not students:
        raise RosterError(f"the roster {path} lists no students", str(path))
    return students


def _for_each(ids: list[str], work: Callable[[object, str], object], parallel: int,
              label: str, progress: bool) -> tuple[ClassResult, dict[str, object]]:
    """Run ``work(client, student)`` for every id on a thread pool with a progress bar."""
    from tqdm import tqdm

    result, values = ClassResult(), {}
    local = threading.local()

    def run(sid: str):
        if not hasattr(local, "client"):  # one Docker client per worker thread
            local.client = backend.connect()
        return work(local.client, sid)

    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool, \
            tqdm(total=len(ids), desc=label, unit="student", disable=not progress,
                 file=sys.stderr) as bar:
        futures = {pool.submit(run, sid): sid for sid in ids}
        for future in as_completed(futures):
            sid = futures[future]
            try:
                values[sid] = future.result()
                result.done.append(sid)
            except Exception as exc:  # noqa: BLE001 - one student's failure is reported, not fatal
                result.failed[sid] = str(exc) or type(exc).__name__
            bar.update()
    result.done.sort()
    return result, values


ENGINES = ("docker", "swarm")


def _swarm(engine: str):
    """The swarm engine module for ``engine == "swarm"``, None for the Docker backend."""
    if engine not in ENGINES:
        raise backend.DockerTestnetError(f"unknown engine {engine!r}; use one of: {', '.join(ENGINES)}", engine)
    if engine == "docker":
        return None
    from labchain.deploy import swarm

    return swarm


def class_up(roster: list[Student], nodes: int = 3, parallel: int = 8, with_lab: bool = False,
             settings: backend.DockerSettings | None = None, progress: bool = True,
             engine: str = "docker") -> ClassResult:
    """Bring up (or complete) a testnet for every student on ``roster`` (``engine``: docker
    containers on this host, or one Swarm stack per student, see labchain/deploy/swarm.py)."""
    settings = settings or backend.DockerSettings()
    if not 1 <= nodes <= backend.MAX_NODES:
        raise backend.DockerTestnetError(f"a student testnet has 1 to {backend.MAX_NODES} nodes, not {nodes}", nodes)
    client = backend.connect()
    swarm = _swarm(engine)
    if swarm is not None:
        swarm.require_manager(client)
        require_image(client, settings.node_image)
        if with_lab:
            raise swarm.SwarmError("--with-lab is not offered on the swarm engine yet; use --engine docker")
        result, _ = _for_each([s.id for s in roster],
                              lambda c, sid: swarm.up(sid, nodes, settings, client=c),
                              parallel, "class up", progress)
        return result
    require_image(client, settings.node_image)
    if with_lab:
        require_image(client, settings.lab_image)
    ids = [s.id for s in roster]
    have = set(backend.students(client))
    needed = len([sid for sid in ids if sid not in have])
    free = len(backend.free_subnets(client, settings))
    if needed > free:
        raise backend.SubnetPoolExhaustedError(
            f"the roster needs {needed} new networks but the subnet pool {settings.subnet_pool} has "
            f"only {free} free /{settings.subnet_prefix}; nothing was created", settings.subnet_pool)
    result, _ = _for_each(ids, lambda c, sid: backend.up(sid, nodes, with_lab, settings, client=c),
                          parallel, "class up", progress)
    return result


def class_down(ids: list[str] | None = None, parallel: int = 8, progress: bool = True,
               engine: str = "docker") -> ClassResult:
    """Remove the testnets of ``ids`` (default: every student with one on this engine)."""
    client = backend.connect()
    swarm = _swarm(engine)
    if swarm is not None:
        ids = swarm.students(client) if ids is None else ids
        return _for_each(ids, lambda c, sid: swarm.down(sid, client=c, missing_ok=True),
                         parallel, "class down", progress)[0]
    ids = backend.students(client) if ids is None else ids
    result, _ = _for_each(ids, lambda c, sid: backend.down(sid, client=c, missing_ok=True),
                          parallel, "class down", progress)
    leftovers = client.networks.list(filters={"label": backend.LABEL_ROLE + "=labs-network"})
    if not backend.students(client):
        for net in leftovers:  # the shared labs bridge goes with the last student
            net.remove()
    return result


def class_status(ids: list[str] | None = None, parallel: int = 8, progress: bool = False,
                 engine: str = "docker") -> tuple[ClassResult, dict[str, backend.TestnetStatus]]:
    client = backend.connect()
    engine = _swarm(engine) or backend
    ids = engine.students(client) if ids is None else ids
    return _for_each(ids, lambda c, sid: engine.status(sid, client=c), parallel, "class status",
                     progress)


def format_status(statuses: dict[str, backend.TestnetStatus], failed: dict[str, str]) -> str:
    """A plain table: student, nodes healthy, height, memory, lab."""
    rows = [("student", "healthy", "height", "memory", "lab")]
    for sid in sorted(statuses):
        st = statuses[sid]
        heights = sorted({n.height for n in st.nodes if n.height is not None})
        height = "-" if not heights else str(heights[0]) if len(heights) == 1 else f"{heights[0]}..{heights[-1]}"
        rows.append((sid, f"{st.healthy}/{len(st.nodes)}", height, f"{st.memory / 2**20:.0f} MiB",
                     st.lab_url or "-"))
    for sid in sorted(failed):
        rows.append((sid, "error", "-", "-", failed[sid]))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r[:4], widths)) + "  " + r[4] for r in rows)


# --- CLI ---------------------------------------------------------------------------------

def register(subparsers) -> None:
    parser = subparsers.add_parser("class", help="per-student Docker testnets for a whole class",
                                   description=__doc__.split("\n\n")[0].replace("``", ""))
    sub = parser.add_subparsers(dest="class_command", metavar="ACTION")
    up = sub.add_parser("up", help="bring up a testnet for every student on the roster")
    up.add_argument("--roster", required=True, help="CSV file with a 'student' column")
    up.add_argument("--nodes", type=int, default=3, help="nodes per student (default 3)")
    up.add_argument("--parallel", type=int, default=8, help="students brought up at once (default 8)")
    up.add_argument("--with-lab", action="store_true", help="also a JupyterLab container per student")
    up.add_argument("--lab-bind", default="127.0.0.1",
                    help="host address JupyterLab ports are published on (default 127.0.0.1)")
    up.add_argument("--engine", choices=ENGINES, default="docker",
                    help="docker: containers on this host (default); swarm: one Swarm stack per "
                         "student (docs/swarm.md)")
    up.set_defaults(func=_cmd_up)
    for name, text in (("status", "a table of every student's testnet"),
                       ("down", "remove the testnets (and all their volumes)")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--roster", help="only these students (default: every student on this engine)")
        p.add_argument("--student", action="append", help="only this student (repeatable)")
        p.add_argument("--parallel", type=int, default=8)
        p.add_argument("--engine", choices=ENGINES, default="docker", help="docker (default) or swarm")
        p.set_defaults(func=_cmd_status if name == "status" else _cmd_down)
    mon = sub.add_parser("monitor-config", help="print a prometheus.yml scraping every student's "
                         "nodes (see docs/monitoring.md)")
    mon.add_argument("--roster", help="only these students (default: every student on this engine)")
    mon.add_argument("--student", action="append", help="only this student (repeatable)")
    mon.add_argument("--parallel", type=int, default=8)
    mon.add_argument("--interval", type=float, default=15.0, help="scrape interval in seconds (default 15)")
    mon.set_defaults(func=_cmd_monitor_config)
    parser.set_defaults(func=lambda args: parser.print_help() or 2)


def _selected(args: argparse.Namespace) -> list[str] | None:
    if args.student:
        for sid in args.student:
            backend.check_student(sid)
        if args.roster:
            known = {s.id for s in read_roster(args.roster)}
            unknown = [sid for sid in args.student if sid not in known]
            if unknown:
                raise backend.UnknownStudentError(
                    f"not on the roster {args.roster}: {', '.join(unknown)}", unknown)
        return args.student
    return [s.id for s in read_roster(args.roster)] if args.roster else None


def _report(result: ClassResult, verb: str) -> int:
    print(f"{verb}: {len(result.done)} student(s) ok, {len(result.failed)} failed")
    for sid, message in sorted(result.failed.items()):
        print(f"  {sid}: {message}", file=sys.stderr)
    return 0 if result.ok else 1


def _cmd_up(args: argparse.Namespace) -> int:
    roster = read_roster(args.roster)
    settings = backend.DockerSettings(lab_bind=args.lab_bind)
    return _report(class_up(roster, args.nodes, args.parallel, args.with_lab, settings,
                            engine=args.engine), "class up")


def _cmd_down(args: argparse.Namespace) -> int:
    return _report(class_down(_selected(args), args.parallel, engine=args.engine), "class down")


def _cmd_status(args: argparse.Namespace) -> int:
    ids = _selected(args)
    if ids is not None:
        client = backend.connect()
        have = set((_swarm(args.engine) or backend).students(client))
        missing = [sid for sid in ids if sid not in have]
        if args.student and missing:
            raise backend.UnknownStudentError(f"no testnet for: {', '.join(missing)}", missing)
    result, statuses = class_status(ids, args.parallel, engine=args.engine)
    print(format_status(statuses, result.failed))
    return 0 if result.ok else 1


def _cmd_monitor_config(args: argparse.Namespace) -> int:
    from labchain.node.metrics import scrape_config

    result, statuses = class_status(_selected(args), args.parallel)
    print(scrape_config({sid: [(n.index, n.rpc) for n in st.nodes] for sid, st in statuses.items()},
                        args.interval), end="")
    for sid, message in sorted(result.failed.items()):
        print(f"  {sid}: not in the config: {message}", file=sys.stderr)
    return 0 if result.ok else 1
