"""A validator's check + commit of account blocks with and without reusing the verified execution
(docs/accounts-on-engines.md, "Execution once"), in process on pbft-4-account params.

    .venv/bin/python bench/bench_account_execute_once.py

A proposer chain builds ``blocks`` blocks of ``per`` plain transfers (8 senders); a validator
chain checks each proposal (NodeApplication.check) and commits it (FinalityLog.append). Figure:
transfers / (time in check + commit), once with the verified-result cache off (MAX_VERIFIED = 0:
the commit executes again, the behaviour before) and once on; the execution counts are printed.
"""
import time
from types import SimpleNamespace
import labchain.chain.account_model as am
from labchain.chain import Chain
from labchain.chain.finality import FinalityLog, build_block
from labchain.core.config import load_config
from labchain.ledger.account.wallet import AccountWallet
from labchain.node.consensus import NodeApplication
P = load_config("pbft-4-account").params; W = AccountWallet(P); NOW = P.genesis_timestamp + 10_000
def run(bound, blocks=5, per=100):
    am.MAX_VERIFIED = bound
    prop, val = Chain(P, clock=lambda: NOW), Chain(P, clock=lambda: NOW)
    app, fl, flp = NodeApplication(SimpleNamespace(chain=val)), FinalityLog(val), FinalityLog(prop)
    nonce = {s: 0 for s in range(8)}; t = 0.0
    for h in range(1, blocks + 1):
        txs = []
        for k in range(per):
            s = k % 8; txs.append(W.transfer(s, W.address(9), 1, nonce[s])); nonce[s] += 1
        block, _ = build_block(prop, txs, W.addresses[4], timestamp=NOW + h); flp.append(h, block)
        t0 = time.perf_counter(); assert app.check(h, block.to_bytes()) is None; fl.append(h, block); t += time.perf_counter() - t0
    return blocks * per / t, dict(val.ledger.executions)
for bound in (0, 8, 0, 8):
    tps, ex = run(bound); print(f"MAX_VERIFIED={bound}: validator check+commit {tps:.0f} tx/s  executions={ex}")
