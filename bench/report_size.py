"""Size and build time of `rubricate report` for a large synthetic run, and its load time in Chromium.

Writes a HealthBench-shaped run directory (each sample its own 12 criteria with axis, cluster
and theme tags, P(met) on every verdict, and with --explain a 20-40 word explanation each),
scores it with the scoring core (``runs.rescore_results``), builds the report and prints its
size against results.jsonl's (the baseline: the data the page carries). With --browser, opens
the page in the system Chromium and times it until the sample list is drawn.

    python bench/report_size.py --samples 5000
    python bench/report_size.py --samples 5000 --explain --browser
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import shutil
import tempfile
import time
from pathlib import Path

from rubricate.report import write_report
from rubricate.results import SampleResult
from rubricate.runs import rescore_results

AXES = (
    "accuracy",
    "completeness",
    "communication_quality",
    "context_awareness",
    "instruction_following",
)
CLUSTERS = (
    "emergency_referrals",
    "hedging",
    "global_health",
    "context_seeking",
    "expertise_tailored",
)
THEMES = (
    "emergency_referrals",
    "hedging",
    "global_health",
    "communication",
    "context_seeking",
    "health_data_tasks",
    "complex_responses",
)
WORDS = [
    "response",
    "patient",
    "dose",
    "symptoms",
    "advise",
    "clinician",
    "risk",
    "mentions",
    "clearly",
    "states",
    "recommends",
    "emergency",
    "follow-up",
    "avoids",
    "jargon",
    "asks",
    "context",
    "age",
    "weight",
    "history",
    "medication",
    "interaction",
    "safety",
    "uncertainty",
    "appropriate",
    "specific",
    "guidance",
    "evidence",
    "monitoring",
]


def sentence(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high))).capitalize() + "."


def synthetic_run(directory: Path, n_samples: int, explain: bool, seed: int = 0) -> Path:
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "graded.jsonl", "w", encoding="utf-8") as handle:
        for i in range(n_samples):
            verdicts = []
            for k in range(12):
                p_met = rng.random()
                points = rng.choice((-8, -5, -2, 2, 3, 5, 7, 10)) if k else 8
                verdicts.append(
                    {
                        "criterion_id": f"c{k}",
                        "criterion": sentence(rng, 10, 22),
                        "points": float(points),
                        "tags": [f"axis:{rng.choice(AXES)}", f"cluster:{rng.choice(CLUSTERS)}"],
                        "verdict": "met" if p_met > 0.5 else "not_met",
                        "probability": round(p_met, 4),
                        "explanation": sentence(rng, 20, 40) if explain else None,
                    }
                )
            line = {
                "sample_id": f"hb-{i:05d}",
                "rubric_fingerprint": "synthetic",
                "score": None,
                "verdicts": verdicts,
                "judge": "openai:gpt-4.1:0123456789ab",
                "template": "per_criterion_v1@9d398171f57f",
                "metadata": {"example_tags": [f"theme:{rng.choice(THEMES)}"]},
            }
            handle.write(SampleResult.model_validate(line).model_dump_json() + "\n")
    summary, _ = rescore_results([directory / "graded.jsonl"], write_to=directory / "results.jsonl")
    (directory / "graded.jsonl").unlink()
    (directory / "summary.json").write_text(summary.model_dump_json(indent=2), encoding="utf-8")
    return directory


def browser_load_s(page_path: Path) -> float:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("--browser needs Debian's chromium (scripts/test.sh installs it)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page()
        started = time.perf_counter()
        page.goto(page_path.as_uri())
        page.wait_for_selector("body[data-ready='1']", timeout=120_000)
        elapsed = time.perf_counter() - started
        browser.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--explain", action="store_true", help="an explanation on every verdict")
    parser.add_argument("--browser", action="store_true", help="time the page in Chromium")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run = synthetic_run(Path(tmp) / "run", args.samples, args.explain)
        results_bytes = (run / "results.jsonl").stat().st_size
        started = time.perf_counter()
        page = write_report([run], Path(tmp) / "report.html")
        build_s = time.perf_counter() - started
        size = page.stat().st_size
        zipped = len(gzip.compress(page.read_bytes()))
        print(
            json.dumps(
                {
                    "samples": args.samples,
                    "criteria": args.samples * 12,
                    "explanations": args.explain,
                    "results_jsonl_MB": round(results_bytes / 1e6, 2),
                    "report_MB": round(size / 1e6, 2),
                    "report_over_results": round(size / results_bytes, 3),
                    "report_gzipped_MB": round(zipped / 1e6, 2),
                    "build_s": round(build_s, 1),
                    **({"chromium_load_s": round(browser_load_s(page), 1)} if args.browser else {}),
                }
            )
        )


if __name__ == "__main__":
    main()
