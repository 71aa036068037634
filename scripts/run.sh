#!/usr/bin/env bash
# The main job: install Keel, load the support shop's data, and run the support agent on the
# embedded local model through a short conversation (then `.venv/bin/keel support chat` to talk to it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/keel support init
.venv/bin/keel support demo "$@"
