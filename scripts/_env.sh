# Shared set-up for scripts/demo.sh and scripts/test.sh: a project venv with what each needs.
# Sourced, not run. Idempotent: a second run installs nothing new.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${RUBRICATE_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"

# A portable llama.cpp build (about 7 minutes on 2 cores the first time; pip caches the wheel).
export CMAKE_ARGS="${CMAKE_ARGS:--DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DLLAMA_CURL=OFF}"
export PIP_DISABLE_PIP_VERSION_CHECK=1

ensure_venv() {
  if [ ! -x "$VENV/bin/python" ]; then
    echo "creating $VENV"
    "$PY" -m venv "$VENV"
  fi
}

pip_install() {
  "$VENV/bin/python" -m pip install --quiet "$@"
}
