"""Transfers/s on a 4-node regtest-account testnet (issue #11 section 5): mined and seen by all.

    .venv/bin/python bench/bench_account_testnet.py [--txs 400] [--senders 8] [--per-block 100]

Signs ``--txs`` plain transfers from ``--senders`` deterministic accounts (before the clock
starts), sends them round-robin to the 4 nodes (line topology) over RPC, mines a block on
node 0 each time ``--per-block`` more were sent, then waits until every node holds a receipt
for the last transaction of every sender. Figure: transfers / (last receipt seen by all - first
send). Also printed: the send rate alone (pool admission + relay) and the blocks needed.
"""
from __future__ import annotations

import argparse
import tempfile
import time

from labchain.core.params import get_params
from labchain.ledger.account.wallet import AccountWallet
from labchain.node.rpc import RpcError
from labchain.testnet import Testnet


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--txs", type=int, default=400)
    ap.add_argument("--senders", type=int, default=8)
    ap.add_argument("--per-block", type=int, default=100)
    args = ap.parse_args()
    params = get_params("regtest-account")
    wallet = AccountWallet(params)
    per_sender = -(-args.txs // args.senders)
    txs = [wallet.transfer(s, wallet.address(9), 1, n) for n in range(per_sender) for s in range(args.senders)]
    txs = txs[:args.txs]
    last = {}
    for tx in txs:
        last[tx.sender(params.crypto)] = tx.txid(params.crypto).hex()
    with tempfile.TemporaryDirectory(prefix="bench-account-tn-") as d, \
            Testnet.start(nodes=4, topology="line", params="regtest-account", dir=f"{d}/net") as tn:
        rpcs = [n.rpc for n in tn.nodes]
        start = time.perf_counter()
        blocks = 0
        for i, tx in enumerate(txs):
            rpcs[i % 4].sendtransaction(wallet.hex(tx))
            if (i + 1) % args.per_block == 0:
                tn.sync_mempools(timeout=300)
                rpcs[0].generate(1)
                blocks += 1
        sent = time.perf_counter() - start
        tn.sync_mempools(timeout=300)
        while rpcs[0].getmempool():
            rpcs[0].generate(1)
            blocks += 1

        def seen_everywhere() -> bool:
            try:
                return all(rpc.getreceipt(t) for rpc in rpcs for t in last.values())
            except RpcError:
                return False

        while not seen_everywhere():
            time.sleep(0.05)
        total = time.perf_counter() - start
        height = rpcs[3].getblockcount()
    print(f"{len(txs)} transfers from {args.senders} senders via 4 nodes: sent in {sent:.2f} s "
          f"({len(txs) / sent:.0f}/s), mined in {blocks} block(s), seen by all 4 after {total:.2f} s: "
          f"{len(txs) / total:.0f} transfers/s (tip height {height})")


if __name__ == "__main__":
    main()
