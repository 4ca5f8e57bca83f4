#!/usr/bin/env bash
# Wheels that bench/batch_throughput.py needs and the GPU machine's image lacks (it has torch,
# transformers, huggingface_hub, opencv, numpy, pillow, aiohttp, grpcio ... but no ray, diffusers,
# av, python-dotenv), for its Python 3.12 on x86-64, at the versions of this checkout's .venv.
#
# The device tool carries at most 64 MiB per call and ray's wheel alone is about that size, so
# the wheels are packed into one tar and split into parts of 60 MiB, one folder each under the
# git-ignored .whl/: .whl/batch-00, .whl/batch-01, ... Carry one folder per call, in calls made
# back to back (the machine keeps ignored folders between calls while it stays warm);
# bench/batch_throughput.py's docstring has the exact calls.
#
#   bash bench/batch_wheels.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
version() { "$PY" -c "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))" "$1"; }

packages=()
for name in ray av diffusers python-dotenv importlib_metadata jsonschema jsonschema-specifications referencing rpds-py; do
  packages+=("$name==$(version "$name")")
done

rm -rf .whl/batch-download .whl/batch-[0-9]*
mkdir -p .whl/batch-download
"$PY" -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl/batch-download "${packages[@]}"

tar -cf - -C .whl/batch-download . | split -b 60m -d - .whl/batch-part.
for part in .whl/batch-part.*; do
  folder=".whl/batch-${part##*.}"
  mkdir -p "$folder"
  mv "$part" "$folder/"
done
rm -rf .whl/batch-download
du -sh .whl/batch-[0-9]*
