#!/usr/bin/env bash
# On the lent GPU machine (see bench/README.md): the README's test command and the GPU tests.
# Installs the carried wheels (.wheels, .wheels-tests: diffusers, gradio and what the machine
# lacks) and the project into the machine's Python, then runs, side by side, the README's
# `python -m pytest -q` (the CPU suite, here on a machine with a GPU) and `pytest -m gpu`.
# Logs and the GPU tests' measurements land in $OUT (suite.log, gpu-tests.log, gpu-results.tgz).
#   bash bench/device_tests.sh [SECONDS] [GPU-TEST-ARGS...]   # each pytest stopped after SECONDS (540)
# Set SUITE_ARGS (e.g. "-n 8") to spread the README's suite over processes (pytest-xdist).
set -uo pipefail
limit=${1:-540}; shift || true
python3 -m pip install -q --no-index --no-deps --no-compile .wheels/*.whl .wheels-tests/*.whl || exit 1
python3 -m pip install -q --no-index --no-deps --no-build-isolation . || exit 1
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
# The README's command, verbatim, in the background.
(timeout "$limit" python3 -m pytest -q ${SUITE_ARGS:-} > "$OUT/suite.log" 2>&1; echo "exit $?" >> "$OUT/suite.log") &
suite=$!
mkdir -p /tmp/gpu-results
SVDAPP_GPU_RESULTS=/tmp/gpu-results timeout "$limit" python3 -m pytest -m gpu tests/test_gpu.py -v -rfE --durations=15 "$@" \
  2>&1 | tee "$OUT/gpu-tests.log"
echo "gpu tests exit ${PIPESTATUS[0]}" | tee -a "$OUT/gpu-tests.log"
wait $suite
tail -5 "$OUT/suite.log"
tar czf "$OUT/gpu-results.tgz" -C /tmp/gpu-results .
