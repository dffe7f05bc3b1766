"""Helpers shared by the benchmark scripts: OpenSSL reference figures and table printing.

Each ``bench_*.py`` measures LabChain and, in the same run, the C code it is compared with
(``openssl speed``), because absolute figures move with the machine and its load.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess


def openssl_speed(*args: str) -> list[str]:
    """The machine-readable (``-mr``) result lines of ``openssl speed ARGS``."""
    if shutil.which("openssl") is None:
        raise RuntimeError("the openssl command is needed for the reference figure")
    out = subprocess.run(["openssl", "speed", "-mr", *args], capture_output=True, text=True, check=True)
    return [line for line in out.stdout.splitlines() + out.stderr.splitlines() if line.startswith("+F")]


def openssl_sha256_per_second(size: int = 80, seconds: int = 2) -> float:
    """SHA-256 operations per second on ``size``-byte messages (one core)."""
    for line in openssl_speed("-bytes", str(size), "-seconds", str(seconds), "sha256"):
        fields = line.split(":")            # +F:<n>:sha256:<bytes per second>
        if fields[2] == "sha256":
            return float(fields[3]) / size
    raise RuntimeError("no sha256 figure in openssl speed output")


def openssl_p256_verifies_per_second(seconds: int = 2) -> float:
    """ECDSA P-256 verifications per second (one core)."""
    for line in openssl_speed("-seconds", str(seconds), "ecdsap256"):
        if re.match(r"\+F4:\d+:256:", line):  # +F4:<n>:256:<signs/s>:<verifies/s>
            return float(line.split(":")[4])
    raise RuntimeError("no ecdsap256 figure in openssl speed output")


def machine_note() -> str:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{os.cpu_count()} cores, load average {load} (figures drop when other work shares the cores)"


def table(headers: list[str], rows: list[list[object]]) -> str:
    cells = [headers] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
