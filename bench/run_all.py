"""Run every ``bench_*.py`` next to this file, one process each, and print their figures.

``make bench`` calls this. Benchmarks print figures and never assert on speed; this script
exits non-zero only if a benchmark crashed. ``python bench/run_all.py mining`` runs only the
benchmarks whose file name contains "mining".
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    scripts = sorted(p for p in HERE.glob("bench_*.py") if not argv or any(a in p.name for a in argv))
    failed = []
    for script in scripts:
        print(f"\n##### {script.name}", flush=True)
        began = time.perf_counter()
        code = subprocess.run([sys.executable, str(script)], cwd=HERE.parent).returncode
        print(f"##### {script.name}: {'ok' if code == 0 else f'FAILED (exit {code})'} "
              f"in {time.perf_counter() - began:.0f} s", flush=True)
        if code:
            failed.append(script.name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
