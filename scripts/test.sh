#!/usr/bin/env bash
# Installs everything (scripts/setup.sh), then runs the linters, the type checker and the whole test suite.
# Tests start the servers they need (PostgreSQL, HTTP, MCP, llama.cpp) on 127.0.0.1 themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check src tests apps benchmarks
.venv/bin/ruff format --check src tests apps
.venv/bin/mypy
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
