"""``labchain explorer`` as a student runs it: its own process, found through --rpc or
LABCHAIN_TESTNET, the URL it prints, and a one-sentence error when there is nothing to read."""
from __future__ import annotations

import os
import re
import subprocess
import sys

from explorerkit import fetch


def start(args, env=None):
    proc = subprocess.Popen([sys.executable, "-m", "labchain.cli", "explorer", "--port", "0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, **(env or {})))
    line = proc.stdout.readline()
    match = re.search(r"(http://127\.0\.0\.1:\d+)/", line)
    assert match, (line, proc.stderr.read() if proc.poll() is not None else "")
    return proc, match.group(1)


def test_explorer_command_serves_the_testnet_named_by_labchain_testnet(chain_net):
    proc, url = start([], {"LABCHAIN_TESTNET": chain_net.env_value})
    try:
        status, body = fetch(url, "/")
        assert status == 200 and '<b id="height">4</b>' in body and body.count('class="up"') == 4
    finally:
        proc.terminate()
        proc.wait(15)


def test_explorer_command_with_rpc_urls_and_a_class_console_token(chain_net):
    proc, url = start(["--rpc", chain_net.nodes[2].rpc_url, "--name", "mine", "--class", "--token", "tk"])
    try:
        assert "/class?token=tk" in proc.stdout.readline()
        status, body = fetch(url, "/n/mine/nodes")
        assert status == 200 and body.count('class="peer up"') == 1
        assert fetch(url, "/class")[0] == 403
    finally:
        proc.terminate()
        proc.wait(15)


def test_explorer_command_without_a_testnet_says_what_to_do(tmp_path):
    env = dict(os.environ, LABCHAIN_RUNTIME_DIR=str(tmp_path))
    env.pop("LABCHAIN_TESTNET", None)
    done = subprocess.run([sys.executable, "-m", "labchain.cli", "explorer"], capture_output=True,
                          text=True, env=env, timeout=60)
    assert done.returncode == 1
    assert "no testnet to explore: pass --testnet PATH or --rpc URL" in done.stderr
    assert "Traceback" not in done.stderr
