"""GET /metrics on every node's RPC port: the Prometheus text a real Prometheus server scrapes.

A 4-node local testnet, a Prometheus server of our own on loopback (Debian's ``prometheus``
binary, a temp config from ``labchain testnet monitor-config`` with a 1 s interval and a temp
TSDB), then PromQL over its HTTP API: every node's height, the counters a reorganisation and a
refused transaction move, and every query of the shipped Grafana dashboard returns data.
Cost: about 15-25 s for the module (one testnet, one Prometheus).
"""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from needs import require

from labchain.ledger.utxo.tx import Transaction
from labchain.node.metrics import scrape_config
from labchain.testnet import Testnet

DASHBOARD = Path(__file__).parents[3] / "docs" / "monitoring" / "grafana-dashboard.json"


def scrape(rpc_url: str) -> tuple[str, str]:
    with urllib.request.urlopen(rpc_url + "metrics", timeout=10) as reply:
        return reply.headers["Content-Type"], reply.read().decode()


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """Every sample of a scrape, parsed by prometheus_client's own parser (an independent check
    of the text format the node writes)."""
    from prometheus_client.parser import text_string_to_metric_families

    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_a_node_serves_prometheus_text_that_counts_its_work(start_node):
    node = start_node()
    rpc = node.rpc
    rpc.generate(2)
    with pytest.raises(Exception, match="no method"):
        rpc.call("getblockcuont")
    content_type, text = scrape(node.rpc.url)
    assert content_type.startswith("text/plain; version=0.0.4")
    got = samples(text)
    assert got[("labchain_block_height", ())] == 2
    assert got[("labchain_blocks_accepted_total", (("status", "new_tip"),))] == 2
    assert got[("labchain_rpc_request_duration_seconds_count", (("method", "generate"),))] == 1
    assert got[("labchain_rpc_errors_total", (("method", "unknown"),))] == 1  # not the typo itself
    assert got[("labchain_mempool_transactions", ())] == 0
    accounts = [a["address"] for a in rpc.listaccounts()]
    rpc.sendtoaddress(accounts[0], accounts[1], 5_000)
    got = samples(scrape(node.rpc.url)[1])
    assert got[("labchain_mempool_transactions", ())] == 1
    assert got[("labchain_mempool_bytes", ())] > 100
    assert got[("labchain_transactions_accepted_total", (("source", "rpc"),))] == 1
    # serving /metrics loaded no TLS into the node (see labchain/node/__main__.py)
    assert "/_ssl." not in Path(f"/proc/{node.pid}/maps").read_text()


def test_other_get_paths_are_still_refused_and_the_node_keeps_serving(node):
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(node.rpc.url + "status", timeout=10)
    assert caught.value.code == 405
    assert node.rpc.getblockcount() == 0


def test_scrape_config_labels_targets_and_refuses_what_prometheus_would():
    text = scrape_config({"alice": [(0, "http://10.0.0.2:18443/")]}, interval=1.5)
    assert "scrape_interval: 1500ms" in text and '"10.0.0.2:18443"' in text
    assert 'testnet: "alice", node: "0"' in text
    with pytest.raises(ValueError, match="no host:port"):
        scrape_config({"alice": [(0, "http://10.0.0.2/")]})
    with pytest.raises(ValueError, match="must be positive"):
        scrape_config({}, interval=0)


# --- a real Prometheus server -------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Prometheus:
    """A Prometheus server on loopback with a temp config and data dir, queried over HTTP."""

    def __init__(self, config: Path, data: Path) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        self.log = (data.parent / "prometheus.log").open("wb")
        self.proc = subprocess.Popen(
            ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={data}",
             f"--web.listen-address={self.url.removeprefix('http://')}", "--log.level=warn"],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.wait(lambda: self._get("/-/ready") is not None, "Prometheus to be ready")

    def _get(self, path: str):
        try:
            with urllib.request.urlopen(self.url + path, timeout=5) as reply:
                return reply.read()
        except (urllib.error.URLError, ConnectionError):
            if self.proc.poll() is not None:
                raise AssertionError(f"prometheus exited with {self.proc.returncode}") from None
            return None

    def query(self, expr: str) -> list[dict]:
        body = self._get("/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        reply = json.loads(body)
        assert reply["status"] == "success", reply
        return reply["data"]["result"]

    def wait(self, predicate, what: str, timeout: float = 30.0):
        deadline = time.monotonic() + timeout
        while not (value := predicate()):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
            time.sleep(0.25)
        return value

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.fixture(scope="module")
def monitored(tmp_path_factory):
    require("prometheus")
    root = tmp_path_factory.mktemp("monitor")
    with Testnet.start(nodes=4, topology="line", params="regtest", dir=root / "net") as tn:
        config = subprocess.run(
            [sys.executable, "-m", "labchain.cli", "testnet", "monitor-config", "--dir",
             str(root / "net"), "--interval", "1"], capture_output=True, text=True, timeout=60)
        assert config.returncode == 0, config.stderr
        assert config.stdout.count("targets:") == 4
        (root / "prometheus.yml").write_text(config.stdout)
        check = subprocess.run(["promtool", "check", "config", str(root / "prometheus.yml")],
                               capture_output=True, text=True, timeout=60)
        assert check.returncode == 0, check.stdout + check.stderr
        prom = Prometheus(root / "prometheus.yml", root / "tsdb")
        try:
            yield tn, prom
        finally:
            prom.stop()


def test_prometheus_scrapes_every_node_and_the_dashboard_queries_return_data(monitored):
    tn, prom = monitored
    rpc0 = tn.nodes[0].rpc
    accounts = [a["address"] for a in rpc0.listaccounts()]
    # a reorganisation: two blocks on one side of a partition, three on the other
    tn.partition([0, 1], [2, 3])
    tn.nodes[3].rpc.generate(2)
    rpc0.generate(3)
    tn.heal()
    tip = tn.sync_blocks()
    assert tn.nodes[3].wait_for_log("reorganisation: 2 block")
    # a transaction node 0 accepts, then the same bytes again: refused as a duplicate
    txid = rpc0.sendtoaddress(accounts[0], accounts[1], 7_000)
    raw = Transaction.from_json(rpc0.gettransaction(txid)["tx"]).to_bytes().hex()
    with pytest.raises(Exception):
        rpc0.sendrawtransaction(raw)
    tn.sync_mempools()
    height = rpc0.getblockcount()
    assert height == 3 and rpc0.getbestblockhash() == tip

    def heights() -> dict[str, float] | None:
        result = prom.query("labchain_block_height")
        got = {r["metric"]["node"]: float(r["value"][1]) for r in result}
        return got if got == {str(i): height for i in range(4)} else None

    prom.wait(heights, f"Prometheus to report height {height} for all 4 nodes")
    prom.wait(lambda: prom.query('labchain_reorgs_total{node="3"} == 1'), "node 3's reorg")
    prom.wait(lambda: prom.query('sum(labchain_transactions_rejected_total{node="0"}) == 1'),
              "node 0's refused transaction")
    prom.wait(lambda: prom.query('labchain_mempool_transactions == 1') and
              len(prom.query('labchain_mempool_transactions == 1')) == 4, "4 mempools of 1 tx")
    prom.wait(lambda: prom.query('sum(labchain_p2p_bytes_total{direction="in",command="block"}) > 0'),
              "block bytes received")

    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    assert len(exprs) >= 12
    missing: list[str] = []

    def every_query_answers() -> bool:  # rate()/increase() need two samples in their window
        missing[:] = [e for e in exprs if not prom.query(e)]
        return not missing

    try:
        prom.wait(every_query_answers, "every dashboard query to return data", timeout=20)
    except AssertionError:
        pytest.fail(f"dashboard queries without data: {missing}")
