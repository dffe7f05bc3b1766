#!/usr/bin/env bash
# `make lab`: start a 4-node local testnet, open JupyterLab on labs/ with LABCHAIN_TESTNET
# exported to the notebooks, and stop the testnet when JupyterLab exits (Ctrl-C included).
# The nodes also watch this script's pid (--owner-pid): if it is killed outright, they exit.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
LAB_NODES=${LAB_NODES:-4}
LAB_PARAMS=${LAB_PARAMS:-regtest}
TESTNET_DIR=${TESTNET_DIR:-var/lab-testnet}

stop_testnet() {
    "$PY" -m labchain.testnet down --dir "$TESTNET_DIR" >/dev/null 2>&1 || true
}
trap stop_testnet EXIT
trap 'exit 130' INT TERM

stop_testnet  # a testnet left by an earlier, killed session
"$PY" -m labchain.testnet up --nodes "$LAB_NODES" --params "$LAB_PARAMS" \
    --dir "$TESTNET_DIR" --owner-pid $$
export LABCHAIN_TESTNET="$PWD/$TESTNET_DIR/testnet.json"
echo "Notebooks reach the testnet through LABCHAIN_TESTNET=$LABCHAIN_TESTNET"
extra=()
[ "$(id -u)" = 0 ] && extra+=(--allow-root)  # containers and CI run as root
"$PY" -m jupyter lab labs/ "${extra[@]}" "$@"
