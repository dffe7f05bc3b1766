#!/usr/bin/env bash
# `make lab` / `make lab-instructor`: a lab session (labchain/deploy/lab.py, docs/lab-views.md).
#   student view (default): JupyterLab on var/student/ (var/student-<LAB_LANG>/), the student
#     versions nbgrader's release step makes from labs/ -- no solutions, no hidden tests, nbgrader's
#     instructor tools off; a notebook already there (the student's work) is never overwritten.
#   LAB_VIEW=instructor: JupyterLab on the nbgrader course var/lab-course/ (sources linked to
#     labs/) with the create-assignment toolbar and formgrader.
# Both start a LAB_NODES-node local testnet in var/lab-testnet/ whose nodes exit with the session,
# export LABCHAIN_TESTNET to the kernels, and record the session so `labchain testnet status`
# finds it without flags; a second session refuses to start while the first one runs.
# LAB_LANG=zh-CN: Chinese Markdown in the student versions and labchain's errors in Chinese.
# Arguments after the script name go to `jupyter lab` (e.g. --port 8899 --no-browser).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
view=()
[ "${LAB_VIEW:-student}" = instructor ] && view=(--instructor)
exec "$PY" -m labchain.cli lab "${view[@]}" --lang "${LAB_LANG:-en}" --nodes "${LAB_NODES:-4}" \
    --config "${LAB_PARAMS:-regtest}" -- "$@"
