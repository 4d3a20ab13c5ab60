#!/usr/bin/env bash
# Generates the local-inference fixtures that are too big to commit, into .cache/fixtures (gitignored):
#   tiny-llama3   real Llama-3 vocabulary (~38 MB), needed by tests when CI=true
#   bench-llama3  benchmark size (~350 MB), only with --bench
#   SmolLM2-135M-Instruct-w8  the real model's batch-invariant variant (int8 weights, float32 activations; ~160 MB),
#                 derived from ../shared/models/SmolLM2-135M-Instruct (read-only there), needed by tests when CI=true
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
SMOLLM2=${ROLYPLAY_SMOLLM2:-../shared/models/SmolLM2-135M-Instruct}
if [[ -f "$SMOLLM2/onnx/model_int8.onnx" && ! -f .cache/fixtures/SmolLM2-135M-Instruct-w8/onnx/model_w8.onnx ]]; then
  "$PY" scripts/make-weight-only-int8.py "$SMOLLM2" .cache/fixtures/SmolLM2-135M-Instruct-w8
fi
if [[ "${1:-}" == "--bench" ]]; then
  "$PY" scripts/make-tiny-llama.py llama3 --out .cache/fixtures/bench-llama3 \
    --hidden 512 --layers 8 --heads 8 --kv-heads 4 --intermediate 1408
fi
