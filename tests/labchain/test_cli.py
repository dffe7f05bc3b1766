"""The top-level ``labchain`` dispatcher: groups, help, forwarding to labchain-grade, exit codes."""
from __future__ import annotations

import os
import subprocess
import sys


def labchain(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labchain.cli", *args],
                          capture_output=True, text=True, timeout=120)


def test_help_lists_every_group():
    result = labchain("--help")
    assert result.returncode == 0
    for group in ("node", "testnet", "class", "images", "curriculum", "grade"):
        assert group in result.stdout


def test_no_command_prints_help_and_exits_2():
    result = labchain()
    assert result.returncode == 2
    assert "usage: labchain" in result.stdout


def test_grade_forwards_everything_including_help_to_labchain_grade():
    result = labchain("grade", "--help")
    assert result.returncode == 0, result.stderr
    assert "usage: labchain-grade" in result.stdout


def test_unknown_group_is_an_argparse_error():
    result = labchain("mine-gold")
    assert result.returncode == 2
    assert "invalid choice: 'mine-gold'" in result.stderr


def test_a_labchain_error_becomes_one_line_and_exit_1(tmp_path):
    result = labchain("testnet", "status", "--dir", str(tmp_path / "none"))
    assert result.returncode == 1
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr


def test_a_reader_that_closes_the_pipe_early_gets_no_traceback():
    """``labchain ... | head``: the reader is gone before the output is written."""
    read_end, write_end = os.pipe()
    os.close(read_end)                      # every write now fails with EPIPE
    try:
        proc = subprocess.run([sys.executable, "-m", "labchain.cli", "curriculum", "schema"], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=60,
                              env={**os.environ, "PYTHONUNBUFFERED": "1"})   # write at once
    finally:
        os.close(write_end)
    assert "Traceback" not in proc.stderr and "BrokenPipeError" not in proc.stderr, proc.stderr
    assert proc.returncode == 141
