"""Helpers of the sandbox tests (notebooks built in code, outputs as text)."""
from __future__ import annotations

import os

from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grading.sandbox import Limits

# Small limits keep hostile notebooks fast; generous wall-clock limits for ordinary cells
# because the test machine is shared (2 cores) and may be heavily loaded.
LIMITS = Limits(timeout_per_cell=20, timeout_total=60, memory_mb=256, cpu_seconds=20,
                max_processes=48, max_output_bytes=200_000, max_file_mb=8)

IS_ROOT = os.geteuid() == 0


def notebook(*sources: str):
    """A notebook with a markdown title and one code cell per source."""
    return new_notebook(cells=[new_markdown_cell("# submission"),
                               *(new_code_cell(src) for src in sources)])


def outputs(result) -> list[str]:
    """Every output of every cell as text: stream text, results, or 'EName: value'."""
    texts = []
    for cell in result.notebook.cells:
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                texts.append(out.text)
            elif out.output_type == "error":
                texts.append(f"{out.ename}: {out.evalue}")
            else:
                texts.append(out.get("data", {}).get("text/plain", ""))
    return texts


def text(result) -> str:
    return "".join(outputs(result))


def connect_source(host: str, port: int) -> str:
    """Notebook code that tries a TCP connection and prints 'connected' or 'refused'."""
    return ("import socket\ntry:\n"
            f"    socket.create_connection(({host!r}, {port}), timeout=3)\n"
            "    print('connected')\nexcept OSError:\n    print('refused')\n")


def search_source(needles: list[str], max_bytes: int = 512 * 2**10) -> str:
    """Notebook code that walks every file system it can see (not following symlinks;
    /proc and /sys skipped, but the namespace init's working directory searched) and prints
    one JSON line: ``hits``, files holding one of ``needles`` or a notebook with
    ``BEGIN HIDDEN TESTS`` in it; ``writable``, directories and regular files it may write
    to outside its own cwd and the private tmpfs mounts; ``files``, how many it read.
    Compiled files (.so, .pyc, images, archives) and nbgrader's own public example
    notebooks are left out, to keep the walk short (~1 min on the 2-core VM)."""
    return f'''\
import json, os, stat
needles = [n.encode() for n in {needles!r}]
own = (os.path.realpath(os.getcwd()), "/tmp", "/var/tmp", "/dev/shm")
hits, writable, files = [], [], 0
skip = (".so", ".pyc", ".png", ".jpg", ".gz", ".whl", ".a", ".o", ".zip", ".ttf", ".afm")
def mine(path):
    return any(path == p or path.startswith(p + "/") for p in own)
def look(top):
    global files
    for path, dirs, names in os.walk(top, onerror=lambda e: None):
        if path in ("/proc", "/sys"):
            dirs.clear()
            continue
        if os.access(path, os.W_OK) and not mine(path):
            writable.append(path)
        for name in names:
            full = os.path.join(path, name)
            try:
                st = os.lstat(full)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            if os.access(full, os.W_OK) and not mine(full):
                writable.append(full)
            if (st.st_size > {max_bytes} or name.endswith(skip) or "/site-packages/nbgrader/" in full
                    or not os.access(full, os.R_OK)):
                continue
            try:
                with open(full, "rb") as f:
                    data = f.read()
            except OSError:
                continue
            files += 1
            if any(n in data for n in needles) or (name.endswith(".ipynb") and b"BEGIN HIDDEN TESTS" in data):
                hits.append(full)
look("/")
look("/proc/1/cwd")
print(json.dumps({{"hits": hits[:20], "writable": writable[:20], "files": files}}))
'''
