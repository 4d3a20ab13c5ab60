#!/usr/bin/env bash
# Generates the local-inference fixtures that are too big to commit, into .cache/fixtures (gitignored):
#   tiny-llama3   real Llama-3 vocabulary (~38 MB), needed by tests when CI=true
#   bench-llama3  benchmark size (~350 MB), only with --bench
# The committed models/tiny-random-llama is regenerated with: $PY scripts/make-tiny-llama.py tiny --out models/tiny-random-llama
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.cache/pyfixtures
PY=$VENV/bin/python
if ! "$PY" -c 'import onnx, numpy, tokenizers' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r scripts/requirements-fixtures.txt
fi
"$PY" scripts/make-tiny-llama.py llama3 --out .cache/fixtures/tiny-llama3
if [[ "${1:-}" == "--bench" ]]; then
  "$PY" scripts/make-tiny-llama.py llama3 --out .cache/fixtures/bench-llama3 \
    --hidden 512 --layers 8 --heads 8 --kv-heads 4 --intermediate 1408
fi
