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
