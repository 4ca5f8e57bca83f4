#!/usr/bin/env bash
# On the lent GPU machine (see bench/README.md): install the carried wheels, then run
# gpu_bench.py with the given arguments, its JSON and log landing in $OUT/NAME.
#   bash bench/device_run.sh NAME --sections ... [gpu_bench.py arguments]
set -uo pipefail
name=$1; shift
python3 -m pip install -q --no-index --no-deps --no-compile --upgrade --target /tmp/site .wheels/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,memory.used,driver_version,clocks.sm --format=csv
python3 bench/gpu_bench.py all --out "$OUT/$name" "$@" 2>&1 | tee "$OUT/$name.log"
