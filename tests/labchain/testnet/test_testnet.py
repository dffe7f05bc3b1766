"""Testnets of real node processes: topology, attach, partition and heal, crash and recovery,
and processes never outliving their owner. The shared 4-node testnet (``tn``) runs once on
regtest (p256-sha256) and once on regtest-sm (sm2-sm3): mining, payments, sync, a partition
with a reorganisation, and a crash during download on each suite."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from labchain.block import BlockHeader
from labchain.core.params import get_params
from labchain.node.process import process_alive
from labchain.testnet import SyncTimeoutError, Testnet, TestnetError, topology_edges
from labchain.testnet.testnet import STATE_FILE
from polling import wait_until


@pytest.fixture(scope="module", params=["regtest", "regtest-sm"])
def tn(request, tmp_path_factory):
    with Testnet.start(nodes=4, topology="line", params=request.param,
                       dir=tmp_path_factory.mktemp("tn") / "net") as net:
        net.network = request.param
        yield net


@pytest.mark.parametrize("topology, edges", [
    ("line", [(1, 0), (2, 1), (3, 2)]),
    ("ring", [(1, 0), (2, 1), (3, 2), (3, 0)]),
    ("full", [(1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2)]),
])
def test_topologies(topology, edges):
    assert topology_edges(4, topology) == edges


def test_unknown_topology_is_refused_with_the_choices():
    with pytest.raises(TestnetError, match="line, ring, full"):
        topology_edges(4, "star")


def test_every_node_answers_and_is_connected_to_its_line_neighbours(tn):
    assert [tn.connected_neighbours(i) for i in range(4)] == [{1}, {0, 2}, {1, 3}, {2}]
    assert all(n.rpc.getblockchaininfo()["network"] == tn.network for n in tn.nodes)
    assert "node3" in tn.table() and "LABCHAIN_TESTNET=" in repr(tn)


def test_a_block_mined_by_node0_reaches_the_end_of_the_line(tn):
    tip = tn.nodes[0].rpc.generate(1)[0]
    assert tn.sync_blocks() == tip
    assert tn.nodes[3].wait_for_log(f"new tip {tip}")


def test_connect_attaches_from_the_environment_value_and_from_json_text(tn, monkeypatch):
    monkeypatch.setenv("LABCHAIN_TESTNET", tn.env_value)
    attached = Testnet.connect()
    assert [n.rpc_url for n in attached.nodes] == [n.rpc_url for n in tn.nodes]
    assert attached.nodes[2].rpc.getbestblockhash() == tn.nodes[2].rpc.getbestblockhash()
    from_text = Testnet.connect(json.dumps({"backend": "docker", "nodes": [
        {"index": i, "rpc": n.rpc_url, "p2p": n.p2p_addr} for i, n in enumerate(tn.nodes)]}))
    assert from_text.nodes[1].rpc.getblockcount() == tn.nodes[1].rpc.getblockcount()
    with pytest.raises(TestnetError, match="started elsewhere"):
        from_text.kill(1)


def test_connect_without_a_testnet_says_how_to_start_one(monkeypatch):
    monkeypatch.delenv("LABCHAIN_TESTNET", raising=False)
    with pytest.raises(TestnetError, match="labchain testnet up"):
        Testnet.connect()


def test_partition_mine_both_sides_heal_converges_on_most_work(tn):
    accounts = [a["address"] for a in tn.nodes[0].rpc.listaccounts()]
    tn.sync_blocks()
    tn.partition([0, 1], [2, 3])
    assert tn.connected_neighbours(1) == {0} and tn.connected_neighbours(2) == {3}
    losing_tx = tn.nodes[3].rpc.sendtoaddress(accounts[3], accounts[4], 4_000)
    tn.sync_mempools([2, 3])
    short_tip = tn.nodes[2].rpc.generate(2)[-1]          # the losing side: less work
    long_tip = tn.nodes[0].rpc.generate(4)[-1]           # the winning side
    assert tn.sync_blocks([0, 1]) == long_tip
    assert tn.sync_blocks([2, 3]) == short_tip
    with pytest.raises(SyncTimeoutError, match="tips differ"):
        tn.sync_blocks(timeout=0.5)
    assert tn.nodes[3].rpc.gettransaction(losing_tx)["confirmations"] == 2

    tn.heal()
    assert tn.sync_blocks() == long_tip
    suite = get_params(tn.network).crypto                 # ids are the suite's on every node
    block = tn.nodes[3].rpc.getblock(long_tip)
    header = BlockHeader.from_json({k: v for k, v in block["header"].items() if k != "hash"})
    assert suite.hash256(header.to_bytes()).hex() == long_tip
    assert tn.nodes[3].wait_for_log("reorganisation: 2 block")
    for node in tn.nodes[2:]:
        assert node.rpc.gettransaction(losing_tx)["confirmations"] == 0
    assert losing_tx in tn.sync_mempools()                # back in every mempool
    tn.nodes[1].rpc.generate(1)
    tn.sync_blocks()
    assert tn.nodes[3].rpc.gettransaction(losing_tx)["confirmations"] == 1


def test_sigkill_during_sync_then_restart_catches_up(tn):
    """node3 is down while node0 mines; restarted, it downloads the blocks from node2 and is
    SIGKILLed in the middle of that download (its height between where it started and the
    tip), then restarted again: it must resume from an intact store and agree with the rest."""
    kill_heights = []
    for attempt in range(5):  # the download is fast: retry until a kill lands in its middle
        tn.kill(3)
        start = tn.nodes[0].rpc.getblockcount()
        tip = tn.nodes[0].rpc.generate(1500)[-1]
        tn.sync_blocks([0, 1, 2])
        tn.restart(3, wait_connected=False)
        rpc = tn.nodes[3].rpc
        while (height := rpc.getblockcount()) <= start:
            pass
        tn.kill(3)
        kill_heights.append((start, height, start + 1500))
        if height < start + 1500:
            break
    print(f"node3 killed at (start, height, tip): {kill_heights}")
    assert any(h < end for _, h, end in kill_heights), f"never killed mid-download: {kill_heights}"
    tn.restart(3)
    assert tn.sync_blocks() == tip
    assert tn.nodes[3].rpc.getblockchaininfo()["height"] == tn.nodes[0].rpc.getblockcount()


def test_partition_refuses_unknown_nodes(tn):
    with pytest.raises(TestnetError, match="no node 7"):
        tn.partition([0, 7])


def test_nodes_exit_when_the_process_that_started_them_is_killed(tmp_path):
    script = (f"from labchain.testnet import Testnet\n"
              f"net = Testnet.start(nodes=2, dir={str(tmp_path / 'owned')!r})\n"
              f"print('up', flush=True)\nimport time; time.sleep(120)\n")
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout.readline().strip() == "up"
        state = json.loads((tmp_path / "owned" / STATE_FILE).read_text())
        pids = [n["pid"] for n in state["nodes"]]
        assert all(process_alive(p) for p in pids)
        owner.send_signal(signal.SIGKILL)                  # no atexit, no cleanup code runs
        owner.wait()
        wait_until(lambda: not any(process_alive(p) for p in pids), what="orphaned nodes to exit")
    finally:
        owner.kill()


def test_cli_up_with_an_owner_pid_keeps_nodes_until_that_owner_dies(tmp_path):
    """What `make lab` does: the CLI exits at once, the nodes live as long as the owner."""
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    d = tmp_path / "owned-by-other"
    try:
        up = _cli("up", "--nodes", "2", "--dir", str(d), "--owner-pid", str(owner.pid), full=True)
        assert up.returncode == 0, up.stderr
        pids = [n["pid"] for n in json.loads((d / STATE_FILE).read_text())["nodes"]]
        time.sleep(1.0)                                    # the CLI has exited: nodes stay up
        assert all(process_alive(p) for p in pids)
        assert _cli("status", "--dir", str(d)).returncode == 0
        owner.kill()
        owner.wait()
        wait_until(lambda: not any(process_alive(p) for p in pids), what="nodes of a dead owner to exit")
    finally:
        owner.kill()
        _cli("down", "--dir", str(d))


def test_the_context_manager_stops_every_node(tmp_path):
    with Testnet.start(nodes=2, topology="full", dir=tmp_path / "ctx") as net:
        pids = [n.endpoint.pid for n in net.nodes]
        assert net.connected_neighbours(0) == {1}
    assert not any(process_alive(p) for p in pids)
    assert not (tmp_path / "ctx" / STATE_FILE).exists()


def _cli(*args: str, env=None, full: bool = False) -> subprocess.CompletedProcess:
    """``labchain testnet ARGS``; ``full``: through the top-level ``labchain`` dispatcher."""
    entry = ["-m", "labchain.cli", "testnet"] if full else ["-m", "labchain.testnet"]
    return subprocess.run([sys.executable, *entry, *args],
                          capture_output=True, text=True, timeout=120, env=env)


def test_cli_up_status_partition_heal_kill_restart_logs_down(tmp_path):
    d = str(tmp_path / "cli")
    up = _cli("up", "--nodes", "3", "--topology", "ring", "--dir", d, full=True)
    try:
        assert up.returncode == 0, up.stderr
        assert f"export LABCHAIN_TESTNET={d}/{STATE_FILE}" in up.stdout
        assert up.stdout.count("node") >= 3
        status = _cli("status", "--json", "--dir", d)
        rows = json.loads(status.stdout)
        assert [r["peers"] for r in rows] == [2, 2, 2]
        env = dict(os.environ, LABCHAIN_TESTNET=f"{d}/{STATE_FILE}")  # found without --dir
        assert _cli("partition", "0", "1,2", env=env).returncode == 0
        assert [r["peers"] for r in json.loads(_cli("status", "--json", env=env).stdout)] == [0, 1, 1]
        assert _cli("heal", env=env).returncode == 0
        assert _cli("kill", "2", env=env).returncode == 0
        assert json.loads(_cli("status", "--json", env=env).stdout)[2]["running"] is False
        again = _cli("kill", "2", env=env)
        assert again.returncode == 0 and "node2 was not running" in again.stdout
        dead_split = _cli("partition", "0,2", "1", env=env)
        assert dead_split.returncode == 0 and "warning: node2 is not running" in dead_split.stderr
        assert _cli("heal", env=env).returncode == 0
        assert _cli("restart", "2", env=env).returncode == 0
        logs = _cli("logs", "2", "--tail", "50", env=env)
        assert "handshake done" in logs.stdout
        bad = _cli("kill", "9", env=env)
        assert bad.returncode == 1 and "no node 9" in bad.stderr
    finally:
        down = _cli("down", "--dir", d)
    assert down.returncode == 0 and "stopped 3 node(s)" in down.stdout
    gone = _cli("status", "--dir", d)
    assert gone.returncode == 1 and "is the testnet up?" in gone.stderr
    twice = _cli("down", "--dir", d)
    assert twice.returncode == 0 and "nothing to stop" in twice.stdout, twice.stderr


def test_cli_refuses_a_student_id_for_the_local_backend(tmp_path):
    result = _cli("up", "--nodes", "1", "--student", "s001", "--dir", str(tmp_path / "x"), full=True)
    assert result.returncode == 1
    assert "--student only applies to --backend docker" in result.stderr


def test_down_drops_the_exit_handler_so_the_handle_can_be_freed(tmp_path):
    import gc
    import weakref

    net = Testnet.start(nodes=1, dir=tmp_path / "one")
    ref = weakref.ref(net)
    del net
    gc.collect()
    assert ref() is not None, "a running testnet must stay reachable (its exit handler holds it)"
    ref().down()
    gc.collect()
    assert ref() is None, "after down() nothing should keep the handle alive"
