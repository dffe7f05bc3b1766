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
# LAB_LANG=zh-CN: Chinese copies of the notebooks in var/lab-zh-CN/ (made once; a notebook
# already there is kept, with the student's work) and labchain's errors in Chinese.
LAB_LANG=${LAB_LANG:-en}
LAB_DIR=labs/
if [ "$LAB_LANG" != en ]; then
    LAB_DIR="var/lab-$LAB_LANG/"
    "$PY" -m labchain.i18n localize-labs labs "$LAB_DIR" --lang "$LAB_LANG"
    export LABCHAIN_LANG="$LAB_LANG"
fi
extra=()
[ "$(id -u)" = 0 ] && extra+=(--allow-root)  # containers and CI run as root
"$PY" -m jupyter lab "$LAB_DIR" "${extra[@]}" "$@"
