"""Prometheus metrics of one node, served as text at ``GET /metrics`` on its RPC port.

Terminology
-----------
counter
    A number that only goes up (blocks accepted, bytes sent); Prometheus computes rates from it.
gauge
    A number read when Prometheus scrapes (height, peers, mempool size).
histogram
    Counts of observations per upper bound (``le``) plus their sum and count: RPC latency by
    method, depth of reorganisations.

Cost: the code paths of the node only add to plain Python dicts and ints (:class:`NodeMetrics`);
the gauges are read from the chain and mempool at scrape time, under ``chain.lock``.

Why the node writes the text format itself rather than through ``prometheus_client``: importing
``prometheus_client`` imports ``ssl`` and ``http.client`` (its push gateway and HTTPS server),
which ``python -m labchain.node`` deliberately keeps out of every node process (about 4.5 MiB
each, see ``labchain/node/__main__.py``): the import fails there. The text format 0.0.4 is a
few lines of code (:class:`_Collector`); the tests parse every scrape with
``prometheus_client``'s parser and with a real Prometheus server, which keeps it honest. Each
node has its own numbers (no process-global registry).

Simplifications: no consensus round/term/leader metrics yet (only proof of work exists); the
rejection ``reason`` label is the error's class name, the P2P ``command`` label a message
command this node knows; an unknown RPC method is counted as ``method="unknown"`` so that
random names cannot grow the label set.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from labchain.core import errors

if TYPE_CHECKING:
    from labchain.node.node import Node

#: upper bounds (seconds) of the RPC latency histogram
RPC_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0)
#: upper bounds (blocks disconnected) of the reorganisation depth histogram
REORG_BUCKETS = (1, 2, 3, 5, 10, 25, 100)


def _reasons(root: type) -> list[str]:
    """Class names of ``root`` and its subclasses: rejection reasons exported from the start
    (at 0), so a dashboard shows every reason before the first rejection happens."""
    out, todo = [], [root]
    while todo:
        cls = todo.pop()
        out.append(cls.__name__)
        todo.extend(cls.__subclasses__())
    return sorted(out)


class _Histogram:
    __slots__ = ("bounds", "counts", "total", "count")

    def __init__(self, bounds: tuple) -> None:
        self.bounds = bounds
        self.counts = [0] * len(bounds)
        self.total = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        for i, bound in enumerate(self.bounds):
            if value <= bound:
                self.counts[i] += 1
                break
        self.total += value
        self.count += 1

    def buckets(self) -> list[tuple[str, int]]:
        """Cumulative (le, count) pairs, ending with +Inf, as Prometheus wants them."""
        out, running = [], 0
        for bound, n in zip(self.bounds, self.counts):
            running += n
            out.append((repr(float(bound)), running))
        out.append(("+Inf", self.count))
        return out


class NodeMetrics:
    """What the node counts as it works, and the text Prometheus scrapes."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.blocks_accepted: dict[str, int] = {}            # status -> n (new_tip, side_branch, ...)
        self.blocks_rejected = dict.fromkeys(_reasons(errors.BlockValidationError), 0)
        self.txs_accepted = {"rpc": 0, "peer": 0}
        self.txs_rejected = dict.fromkeys(_reasons(errors.TxValidationError), 0)
        self.reorgs = 0
        self.reorg_depth = _Histogram(REORG_BUCKETS)
        self.rpc: dict[str, _Histogram] = {}
        self.rpc_errors: dict[str, int] = {}
        self.p2p_bytes: dict[tuple[str, str], int] = {}      # (direction, command) -> bytes
        self.started = time.time()

    # -- called from the node's code paths (cheap: dict arithmetic) ----------------------------
    def block_accepted(self, status: str) -> None:
        self.blocks_accepted[status] = self.blocks_accepted.get(status, 0) + 1

    def block_rejected(self, exc: BaseException) -> None:
        reason = type(exc).__name__
        self.blocks_rejected[reason] = self.blocks_rejected.get(reason, 0) + 1

    def tx_accepted(self, source: str) -> None:
        self.txs_accepted[source] = self.txs_accepted.get(source, 0) + 1

    def tx_rejected(self, exc: BaseException) -> None:
        reason = type(exc).__name__
        self.txs_rejected[reason] = self.txs_rejected.get(reason, 0) + 1

    def chain_updated(self, update: Any) -> None:
        if update.disconnected:
            self.reorgs += 1
            self.reorg_depth.observe(len(update.disconnected))

    def rpc_call(self, method: str, seconds: float, failed: bool) -> None:
        hist = self.rpc.get(method)
        if hist is None:
            hist = self.rpc[method] = _Histogram(RPC_BUCKETS)
        hist.observe(seconds)
        if failed:
            self.rpc_errors[method] = self.rpc_errors.get(method, 0) + 1
        else:
            self.rpc_errors.setdefault(method, 0)

    def p2p(self, direction: str, command: bytes, size: int) -> None:
        key = (direction, command.decode("ascii", "replace"))
        self.p2p_bytes[key] = self.p2p_bytes.get(key, 0) + size

    # -- scraping --------------------------------------------------------------------------
    def exposition(self) -> tuple[bytes, str]:
        """(body, content type) of the Prometheus text format 0.0.4 for this node, now."""
        return _Collector(self).text().encode(), CONTENT_TYPE


CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    return repr(float(value)) if isinstance(value, float) else str(value)


class _Collector:
    """Writes :class:`NodeMetrics` and the chain's state (read at scrape time, under
    ``chain.lock``) as Prometheus text."""

    def __init__(self, metrics: NodeMetrics) -> None:
        self.m = metrics
        self.lines: list[str] = []

    def family(self, name: str, kind: str, doc: str) -> None:
        self.lines += [f"# HELP {name} {doc}", f"# TYPE {name} {kind}"]

    def sample(self, metric: str, value: float, /, **labels: str) -> None:
        inner = ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels.items())
        self.lines.append(f"{metric}{{{inner}}} {_number(value)}" if inner else f"{metric} {_number(value)}")

    def gauge(self, name: str, doc: str, value: float) -> None:
        self.family(name, "gauge", doc)
        self.sample(name, value)

    def counter(self, name: str, doc: str, label: str | None, values) -> None:
        self.family(name + "_total", "counter", doc)   # text format 0.0.4: TYPE names the sample
        if label is None:
            self.sample(name + "_total", values)
            return
        for key, value in sorted(values.items()):
            self.sample(name + "_total", value, **{label: key})

    def histogram(self, name: str, doc: str, hists: dict[str, _Histogram], label: str | None) -> None:
        self.family(name, "histogram", doc)
        for key, hist in sorted(hists.items()):
            extra = {label: key} if label else {}
            for le, count in hist.buckets():
                self.sample(name + "_bucket", count, **extra, le=le)
            self.sample(name + "_sum", hist.total, **extra)
            self.sample(name + "_count", hist.count, **extra)

    def text(self) -> str:
        m, node = self.m, self.m.node
        with node.chain.lock:
            height, tip_time = node.chain.height, node.chain.tip_header.timestamp
            pool = node.mempool
            sizes = [pool.get(tx.txid_in(pool.chain.suite)).size for tx in pool.transactions()]
        self.family("labchain_node_info", "gauge", "This node's name and chain id (value 1).")
        self.sample("labchain_node_info", 1, name=node.name, network=node.params.name)
        self.gauge("labchain_block_height", "Height of the best block.", height)
        self.gauge("labchain_best_block_timestamp_seconds",
                   "Header timestamp of the best block (Unix seconds).", tip_time)
        ready = node.p2p.ready_peers()
        self.family("labchain_peers", "gauge", "Connected peers past the handshake.")
        for direction, inbound in (("inbound", True), ("outbound", False)):
            self.sample("labchain_peers", sum(1 for p in ready if p.inbound == inbound),
                        direction=direction)
        self.gauge("labchain_mempool_transactions", "Transactions in the mempool.", len(sizes))
        self.gauge("labchain_mempool_bytes", "Encoded size of the mempool's transactions.", sum(sizes))
        self.counter("labchain_blocks_accepted", "Blocks added to the block tree, by the status "
                     "they got.", "status", m.blocks_accepted)
        self.counter("labchain_blocks_rejected", "Blocks refused, by the error's class.",
                     "reason", m.blocks_rejected)
        self.counter("labchain_transactions_accepted", "Transactions added to the mempool, by "
                     "where they came from.", "source", m.txs_accepted)
        self.counter("labchain_transactions_rejected", "Transactions refused (RPC or peers), by "
                     "the error's class.", "reason", m.txs_rejected)
        self.counter("labchain_reorgs", "Tip changes that disconnected blocks.", None, m.reorgs)
        self.histogram("labchain_reorg_depth_blocks", "Blocks disconnected per reorganisation.",
                       {"": m.reorg_depth}, None)
        self.histogram("labchain_rpc_request_duration_seconds", "JSON-RPC calls by method: count "
                       "and time to answer.", m.rpc, "method")
        self.counter("labchain_rpc_errors", "JSON-RPC calls answered with an error object, by "
                     "method.", "method", m.rpc_errors)
        self.family("labchain_p2p_bytes_total", "counter", "P2P bytes (frame included) by direction "
                    "and message command.")
        for (direction, command), size in sorted(m.p2p_bytes.items()):
            self.sample("labchain_p2p_bytes_total", size, direction=direction, command=command)
        return "\n".join(self.lines) + "\n"


# --- scrape configuration -------------------------------------------------------------------

def scrape_config(testnets: dict[str, list[tuple[int, str]]], interval: float = 5.0,
                  job: str = "labchain") -> str:
    """A ``prometheus.yml`` scraping every node: ``testnets`` maps a testnet's name (a student
    id, or ``local``) to its nodes' (index, RPC URL). Each target carries the labels
    ``testnet`` and ``node``, which the shipped Grafana dashboard groups by."""
    import json
    import urllib.parse

    def seconds(value: float) -> str:  # Prometheus durations: "15s", "1500ms" (not "1.5s")
        if value <= 0:
            raise ValueError(f"the scrape interval must be positive, got {value}")
        return f"{int(value)}s" if value == int(value) else f"{round(value * 1000)}ms"

    lines = ["# generated by labchain (monitor-config): Prometheus scrape config for LabChain nodes",
             "global:", f"  scrape_interval: {seconds(interval)}",
             f"  evaluation_interval: {seconds(interval)}", "scrape_configs:",
             f"  - job_name: {json.dumps(job)}", "    metrics_path: /metrics"]
    targets = [(name, index, url) for name in sorted(testnets) for index, url in testnets[name]]
    if not targets:
        lines.append("    static_configs: []")
    else:
        lines.append("    static_configs:")
    for name, index, url in targets:
        parts = urllib.parse.urlsplit(url)
        if not parts.hostname or not parts.port:
            raise ValueError(f"node {index} of {name} has no host:port in its RPC URL {url!r}")
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        lines += [f"      - targets: [{json.dumps(f'{host}:{parts.port}')}]",
                  f"        labels: {{testnet: {json.dumps(name)}, node: {json.dumps(str(index))}}}"]
    return "\n".join(lines) + "\n"
