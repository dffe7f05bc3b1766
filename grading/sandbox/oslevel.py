"""Linux primitives of the OS-level sandbox, called in the forked kernel process.

Python 3.11 has no ``os.unshare``/``mount``/``prctl``, so they are reached through libc with
ctypes. Every function here either succeeds or raises ``OSError`` with the failing call named;
the zygote decides at start-up which of them work on this machine (``probe``).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import fcntl
import os
import pwd
import re
import resource
import select
import signal
import socket
import stat
import struct
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass

CLONE_NEWNS = 0x00020000    # mount namespace
CLONE_NEWUTS = 0x04000000   # hostname
CLONE_NEWIPC = 0x08000000   # System V IPC, POSIX message queues
CLONE_NEWPID = 0x20000000   # process ids: the kernel becomes pid 1, its death kills the rest
CLONE_NEWNET = 0x40000000   # network: only a loopback interface
SANDBOX_NAMESPACES = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET

MS_NOSUID, MS_NODEV, MS_NOEXEC = 2, 4, 8
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 1, 36, 38

DEFAULT_USER = "labchain-sandbox"


def read_sandbox_file(directory: str, name: str, limit: int, owners: Iterable[int]) -> bytes | None:
    """The last ``limit`` bytes of ``directory/name``, a file the sandbox may have written
    (its scratch directory), or ``None`` when it is not a plain file we can trust.

    The trusted side opens NOTHING the sandbox can write in any other way: a submission can
    replace such a file with a symlink (to ``/etc/shadow``, ``/proc/self/environ``, a
    ``.pgpass``: the driver, often root, would read it and copy it into feedback), a FIFO
    (``open`` would block the worker for ever), a device or a hard link to a file it does
    not own. So: no symlink is followed (``O_NOFOLLOW``, the directory too), ``O_NONBLOCK``
    (a FIFO opens without waiting, and is then refused), and the open file must be a regular
    file with a single link owned by one of ``owners`` (the sandbox user, the grader)."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    try:
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fd = os.open(name, flags, dir_fd=dir_fd)
    except OSError:
        return None
    finally:
        os.close(dir_fd)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1 or st.st_uid not in set(owners):
            return None
        os.lseek(fd, max(0, st.st_size - limit), os.SEEK_SET)
        return os.read(fd, limit)
    except OSError:
        return None
    finally:
        os.close(fd)

_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def unshare(flags: int) -> None:
    _check(_libc.unshare(ctypes.c_int(flags)), f"unshare({flags:#x})")


def mount(source: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = lambda s: None if s is None else s.encode()  # noqa: E731
    _check(_libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
           f"mount {source} on {target}")


def prctl(option: int, arg: int) -> None:
    _check(_libc.prctl(option, ctypes.c_ulong(arg), 0, 0, 0), f"prctl({option})")


def die_with_parent(parent: int | None = None, lifeline: int | None = None) -> None:
    """SIGKILL this process when its parent exits (``PR_SET_PDEATHSIG``), without the race
    of that call: a parent that exits between our ``fork`` and the ``prctl`` sends nothing,
    and the orphan would live on (a submission's init and idle kernel outliving a killed
    grader, for ever). So look once more after the ``prctl``, and exit if the parent is
    already gone: ``parent`` is its pid as ``getppid`` shows it; ``lifeline`` is the read end
    of a pipe whose write end only the parent holds (for a child in a new pid namespace,
    where ``getppid`` is 0 whoever the parent is).

    Linux clears the setting when the process changes its user or group ids: call this again
    after ``drop_privileges``."""
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if parent is not None and os.getppid() != parent:
        os._exit(0)
    if lifeline is not None and select.select([lifeline], [], [], 0)[0]:
        os._exit(0)   # end of file: the parent has exited


def set_process_name(name: str) -> None:
    """The name ``ps -o comm``/``top`` show (15 bytes), e.g. to tell a zygote from its kernels."""
    _libc.prctl(15, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)   # PR_SET_NAME


def loopback_up() -> None:
    """Bring ``lo`` up in a fresh network namespace (so 127.0.0.1 works inside it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifreq = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(s, 0x8913, ifreq))[1]  # SIOCGIFFLAGS
        fcntl.ioctl(s, 0x8914, struct.pack("16sH22x", b"lo", flags | 1))   # SIOCSIFFLAGS, IFF_UP


#: top-level directories a kernel may see (read-only): the system; every OTHER top-level
#: directory (/root, /home, /work, /srv, /opt, /mnt, ...) is covered, since an instructor's
#: material (another checkout of the labs, a course, a gradebook) may live in any of them and a
#: deny list of known places missed them (a second checkout under /work was readable)
SYSTEM_DIRS = frozenset({"bin", "boot", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc",
                         "run", "sbin", "sys", "tmp", "usr", "var"})


def default_hidden(root: str = "/") -> tuple[str, ...]:
    """Home directories plus every top-level directory that is not part of the system."""
    try:
        names = sorted(os.listdir(root))
    except OSError:
        names = []
    extra = [os.path.join(root, n) for n in names if n not in SYSTEM_DIRS
             and os.path.isdir(os.path.join(root, n)) and not os.path.islink(os.path.join(root, n))]
    return tuple(dict.fromkeys(["/root", "/home", *extra]))


DEFAULT_HIDDEN = default_hidden()
PRIVATE_TMP = ("/tmp", "/var/tmp", "/dev/shm")   # a fresh, empty, writable tmpfs each
MS_RDONLY, MS_REMOUNT = 1, 32
_MOUNT_OPTIONS = {"nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC,
                  "noatime": 1024, "nodiratime": 2048, "relatime": 1 << 21}


def private_mounts(scratch: str, hide_paths: tuple[str, ...], keep_paths: tuple[str, ...]) -> None:
    """In a new mount namespace: fresh /proc; empty private /tmp, /var/tmp, /dev/shm; an empty
    read-only tmpfs over each hidden path (home directories, the course directory, the
    checkout); then every other mount read-only, so the submission can write only to its
    scratch directory and the private tmpfs mounts, which die with the namespace (no file,
    e.g. in a world-writable /run/lock or /dev/mqueue, survives into the next submission).

    Paths in ``keep_paths`` (the Python installation, site-packages, the preloaded packages)
    and ``scratch`` that lie under a covered path are re-attached at the same place (read-only,
    but for scratch) through file descriptors opened before covering, so e.g. a Python
    installed under /root stays importable. Finally the working directory becomes ``/``:
    a cwd left in the host's tree would stay reachable through ``/proc/1/cwd``.
    """
    mount("none", "/", None, MS_REC | MS_PRIVATE)
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    reattach = {}
    for path in sorted({scratch, *keep_paths}, key=len):
        try:
            reattach[path] = os.open(path, os.O_PATH | os.O_DIRECTORY)
        except OSError:
            pass
    for path in PRIVATE_TMP:
        if os.path.isdir(path):
            mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "size=64m,mode=1777")
    for path in hide_paths:
        if os.path.isdir(path):
            mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=755")
    for path, fd in reattach.items():
        if not os.path.isdir(path):
            os.makedirs(path, mode=0o700 if path == scratch else 0o755)
            mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
        os.close(fd)
    if os.path.realpath(scratch) not in {point for point, _ in _mount_points()}:   # its own mount, to stay writable
        mount(scratch, scratch, None, MS_BIND)
    writable = {os.path.realpath(scratch), *PRIVATE_TMP, "/proc"}
    read_only(keep=writable)
    os.chdir("/")


def _mount_points() -> list[tuple[str, int]]:
    """(mount point, flags to keep) of every mount of this mount namespace, in mount order."""
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
            flags = 0
            for option in fields[5].split(","):
                flags |= _MOUNT_OPTIONS.get(option, 0)
            points.append((point, flags))
    return points


def read_only(keep: set[str]) -> None:
    """Remount every mount of this namespace read-only except those at ``keep`` and the
    namespace's own /proc (whose writable files are the process's own). A mount that
    cannot be remounted (gone, or covered) is left as it is; a failure on ``/`` is fatal."""
    for point, flags in _mount_points():
        if point in keep or point == "/proc" or point.startswith("/proc/"):
            continue
        try:
            mount("none", point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | flags)
        except OSError:
            if point == "/":
                raise


@dataclass(frozen=True, slots=True)
class SandboxUser:
    name: str
    uid: int
    gid: int


def sandbox_user(name: str = DEFAULT_USER, create: bool = True) -> SandboxUser | None:
    """The unprivileged user kernels run as; created (system user, no home, no shell) when
    running as root. ``None`` when not root: then kernels keep the grader's own user."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        if not create:
            return None
        made = subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir",
                               "/nonexistent", "--shell", "/usr/sbin/nologin", "--user-group", name],
                              capture_output=True, text=True)
        try:   # another zygote may have created it at the same moment
            entry = pwd.getpwnam(name)
        except KeyError:
            raise OSError(f"cannot create the sandbox user {name}: {made.stderr.strip()}") from None
    return SandboxUser(name, entry.pw_uid, entry.pw_gid)


def drop_privileges(user: SandboxUser) -> None:
    os.setgroups([])
    os.setresgid(user.gid, user.gid, user.gid)
    os.setresuid(user.uid, user.uid, user.uid)


def count_user_processes(uid: int) -> int:
    """Processes (with their threads) owned by ``uid``: what RLIMIT_NPROC counts."""
    count = 0
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if os.stat(f"/proc/{pid}").st_uid == uid:
                    count += len(os.listdir(f"/proc/{pid}/task"))
            except OSError:
                pass
    return count


def set_rlimits(*, address_space: int, cpu_seconds: int, nproc: int | None, fsize: int) -> None:
    def lower(which: int, soft: int, hard: int | None = None) -> None:
        cur_soft, cur_hard = resource.getrlimit(which)
        hard = soft if hard is None else hard
        if cur_hard != resource.RLIM_INFINITY:
            hard = min(hard, cur_hard)
        resource.setrlimit(which, (min(soft, hard), hard))

    lower(resource.RLIMIT_AS, address_space)
    lower(resource.RLIMIT_CPU, cpu_seconds, cpu_seconds + 2)   # SIGXCPU, then SIGKILL
    if nproc is not None:
        lower(resource.RLIMIT_NPROC, nproc)
    lower(resource.RLIMIT_FSIZE, fsize)
    lower(resource.RLIMIT_CORE, 0)


def probe_namespaces() -> bool:
    """True when this process may create the sandbox namespaces (tried in a throw-away child)."""
    pid = os.fork()
    if pid == 0:
        try:
            unshare(SANDBOX_NAMESPACES)
            os._exit(0)
        except BaseException:
            os._exit(1)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
