"""Juries and calibration of the local judges on the hand-labelled check set.

Grades tests/data/judge_checks.jsonl (80 criteria, 40 met and 40 not) through the real path
(``Grader``, the SQLite cache, one ``LlamaCppJudge`` per model) with every installed model
alone (the baseline, in the same command), then with a jury of them under each rule: the
jury's members' verdicts come from the cache, so a jury costs no call beyond its members'.
Calibration: each model's P(met) fitted on one half of the cases (seeded, stratified) and
measured on the other half, and the other way round (figures averaged over both halves).

    python bench/jury_calibration.py [--models qwen2.5-coder-1.5b,qwen2.5-coder-0.5b,smollm2-135m]
        [--limit N] [--threads 1] [--seed 0] [--evidence-modes off,on,strict]

With ``--evidence-modes``, only that: each model grades the same checks once per evidence mode
(``GradeOptions(evidence=...)``). ``off`` is the baseline's options (P(met) read from the next
token); ``on`` and ``strict`` make the embedded judge generate a JSON reply with its quotes,
under the reply schema's grammar (``constrain="json_schema"``) so the small model stays in
format. ``on`` and ``strict`` send the same requests (same template, same cache key), so
``strict`` re-weighs ``on``'s cached replies when both are asked: its calls are 0 then.
Printed per mode: accuracy, balanced F1, undecided, errors, the grader's evidence counts of met
verdicts (verified / unverified / missing), met verdicts strict downgraded, and s/criterion.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from rubricate.backends.llamacpp import LlamaCppJudge
from rubricate.calibrate import expected_calibration_error, fit_judge
from rubricate.engine import GradeOptions, Grader, Jury, JuryMember
from rubricate.models import MODELS, model_status, resolve_model
from rubricate.results import SampleResult
from rubricate.rubric import Criterion, Rubric
from rubricate.runs import RunAccumulator
from rubricate.store import Store, open_store
from rubricate.types import Message, Sample

CHECKS = Path(__file__).resolve().parent.parent / "tests" / "data" / "judge_checks.jsonl"


def load(path: Path, limit: int | None) -> tuple[list[Sample], list[bool]]:
    samples, labels = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        criterion = Criterion(id=row["id"], text=row["criterion"], points=row["points"])
        samples.append(
            Sample(
                row["id"],
                tuple(Message(m["role"], m["content"]) for m in row["conversation"]),
                Rubric(id=row["id"], criteria=(criterion,)),
                row["response"],
            )
        )
        labels.append(row["label"] == "met")
    return (samples[:limit], labels[:limit]) if limit else (samples, labels)


async def run(grader: Grader, samples: list[Sample]) -> tuple[list[SampleResult], dict]:
    accumulator = RunAccumulator()
    results = []
    async for item in grader.iter_grade(samples):
        assert isinstance(item, SampleResult), item
        results.append(item)
        accumulator.add(item)
    return results, accumulator.graded(grader).model_dump(mode="json")


def figures(predicted: list[str], labels: list[bool]) -> dict[str, float]:
    truth = np.array(labels)
    decided = np.array([p in ("met", "not_met") for p in predicted])
    met = np.array([p == "met" for p in predicted])

    def f1(positive: np.ndarray, said: np.ndarray) -> float:
        tp = float((positive & said).sum())
        wrong = float((~positive & said).sum() + (positive & ~said).sum())
        return 2 * tp / (2 * tp + wrong) if tp else 0.0

    not_met = decided & ~met
    return {
        "accuracy": float(((met & truth) | (not_met & ~truth)).mean()),
        "balanced_f1": (f1(truth, met) + f1(~truth, not_met)) / 2,
        "undecided": int((~decided).sum()),
    }


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def halves(labels: list[bool], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    half = np.zeros(len(labels), dtype=int)
    truth = np.array(labels)
    for value in (False, True):
        members = rng.permutation(np.flatnonzero(truth == value))
        half[members] = np.arange(len(members)) % 2
    return half


def calibration_rows(name: str, p: list[float], labels: list[bool], seed: int) -> dict:
    probs, truth = np.array(p), np.array(labels, dtype=float)
    half = halves(labels, seed)
    sums: dict[str, float] = {}
    for fit_on in (0, 1):
        train, test = half == fit_on, half != fit_on
        fitted = fit_judge(probs[train], truth[train], seed=seed)
        mapped = fitted.map().apply(probs[test])
        raw = ["met" if x >= 0.5 else "not_met" for x in probs[test]]
        cal = ["met" if x >= fitted.threshold else "not_met" for x in mapped]
        row = {
            "ece_before": expected_calibration_error(probs[test], truth[test]),
            "ece_after": expected_calibration_error(mapped, truth[test]),
            **{f"raw_{k}": v for k, v in figures(raw, list(truth[test] > 0)).items()},
            **{f"cal_{k}": v for k, v in figures(cal, list(truth[test] > 0)).items()},
        }
        for key, value in row.items():
            sums[key] = sums.get(key, 0.0) + value / 2
        sums[f"method_{fit_on}"] = fitted.method  # type: ignore[assignment]
    return {"model": name, **sums}


def jury_rows(
    judges: dict[str, LlamaCppJudge],
    store: Store,
    options: GradeOptions,
    samples: list[Sample],
    labels: list[bool],
) -> None:
    """Each rule's jury over the judges (members' verdicts from the cache), then agreement."""
    members = tuple(JuryMember(j, name=n) for n, j in judges.items())
    weighted = tuple(
        JuryMember(j, weight=2.0 if i == 0 else 1.0, name=n)
        for i, (n, j) in enumerate(judges.items())
    )
    for rule, chosen in (
        ("majority", members),
        ("weighted", weighted),
        ("unanimous", members),
        ("any", members),
    ):
        jury = Jury(chosen, rule)  # type: ignore[arg-type]
        grader = Grader(chosen[0].judge, store=store, options=options, jury=jury)
        results, summary = asyncio.run(run(grader, samples))
        f = figures([r.verdicts[0].verdict for r in results], labels)
        label = f"jury {rule}" + (" (first judge x2)" if rule == "weighted" else "")
        print(
            f"| {label} | {f['accuracy']:.3f} | {f['balanced_f1']:.3f} | "
            f"{f['undecided']} | calls {summary['counts']['judge_calls']} |"
        )
    agreement = summary["jury"]
    print(
        f"\nFleiss kappa {_fmt(agreement['fleiss_kappa'])}, Krippendorff alpha "
        f"{_fmt(agreement['krippendorff_alpha'])}; agreement with the majority jury:"
    )
    _, majority = asyncio.run(
        run(Grader(members[0].judge, store=store, options=options,
                   jury=Jury(members, "majority")), samples)
    )  # fmt: skip
    for judge_fp, entry in majority["jury"]["judges"].items():
        print(f"  {entry['name']}: {_fmt(entry['agreement_with_jury'])} ({judge_fp})")


def evidence_rows(
    names: list[str], modes: list[str], threads: int, samples: list[Sample], labels: list[bool]
) -> None:
    """Each model on the checks once per evidence mode (the same cache, so strict reuses on's replies)."""
    print(
        "\n| judge | evidence | accuracy | balanced F1 | undecided | errors | "
        "verified / unverified / missing | downgraded | calls | s/criterion |"
    )
    print("|---|---|---:|---:|---:|---:|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        store, _ = open_store(Path(tmp) / "cache.sqlite")
        for name in names:
            judge = LlamaCppJudge(resolve_model(name), n_ctx=4096, n_threads=threads)
            for mode in modes:
                options = (
                    GradeOptions(concurrency=1, probabilities=True)
                    if mode == "off"
                    else GradeOptions(
                        concurrency=1, probabilities=True, evidence=mode, constrain="json_schema"
                    )
                )  # type: ignore[arg-type]
                started = time.perf_counter()
                results, summary = asyncio.run(
                    run(Grader(judge, store=store, options=options), samples)
                )
                seconds = (time.perf_counter() - started) / len(samples)
                verdicts = [r.verdicts[0] for r in results]
                f = figures([v.verdict for v in verdicts], labels)
                c = summary["counts"]
                support = (
                    "-"
                    if mode == "off"
                    else f"{c['evidence_verified']} / {c['evidence_unverified']} / "
                    f"{c['evidence_missing']}"
                )
                downgraded = sum(v.judged is not None for v in verdicts)
                print(
                    f"| {name} | {mode} | {f['accuracy']:.3f} | {f['balanced_f1']:.3f} | "
                    f"{f['undecided']} | {c['errors']} | {support} | {downgraded} | "
                    f"{c['judge_calls']} | {seconds:.2f} |",
                    flush=True,
                )
            judge.close()
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", help="comma-separated (default: every installed model)")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=CHECKS)
    parser.add_argument(
        "--evidence-modes",
        help="comma-separated evidence modes (off, on, strict): grade each, nothing else",
    )
    args = parser.parse_args()
    names = (
        args.models.split(",") if args.models else [n for n in MODELS if model_status(n).installed]
    )
    samples, labels = load(args.data, args.limit)
    print(f"{len(samples)} cases, {sum(labels)} met; models: {', '.join(names)}")
    if args.evidence_modes:
        modes = args.evidence_modes.split(",")
        for mode in modes:
            GradeOptions(evidence=mode)  # type: ignore[arg-type]  # ConfigError if unknown
        evidence_rows(names, modes, args.threads, samples, labels)
        return
    options = GradeOptions(concurrency=1, probabilities=True)
    with tempfile.TemporaryDirectory() as tmp:
        store, _ = open_store(Path(tmp) / "cache.sqlite")
        judges = {
            n: LlamaCppJudge(resolve_model(n), n_ctx=4096, n_threads=args.threads) for n in names
        }
        alone: dict[str, list[SampleResult]] = {}
        print("\n| judge | accuracy | balanced F1 | undecided | s/criterion |")
        print("|---|---:|---:|---:|---:|")
        for name, judge in judges.items():
            started = time.perf_counter()
            results, _ = asyncio.run(run(Grader(judge, store=store, options=options), samples))
            seconds = (time.perf_counter() - started) / len(samples)
            alone[name] = results
            f = figures([r.verdicts[0].verdict for r in results], labels)
            print(
                f"| {name} | {f['accuracy']:.3f} | {f['balanced_f1']:.3f} | "
                f"{f['undecided']} | {seconds:.2f} |"
            )
        if len(judges) >= 2:
            jury_rows(judges, store, options, samples, labels)
        print(
            "\n| model | ECE before | ECE after | accuracy raw -> calibrated | "
            "balanced F1 raw -> calibrated | maps chosen |"
        )
        print("|---|---:|---:|---:|---:|---|")
        for name, results in alone.items():
            p = [r.verdicts[0].probability for r in results]
            if any(x is None for x in p):
                print(f"| {name} | no P(met) on every case |")
                continue
            row = calibration_rows(name, [float(x) for x in p if x is not None], labels, args.seed)
            print(
                f"| {name} | {row['ece_before']:.3f} | {row['ece_after']:.3f} | "
                f"{row['raw_accuracy']:.3f} -> {row['cal_accuracy']:.3f} | "
                f"{row['raw_balanced_f1']:.3f} -> {row['cal_balanced_f1']:.3f} | "
                f"{row['method_0']}, {row['method_1']} |"
            )
        for judge in judges.values():
            judge.close()
        store.close()


if __name__ == "__main__":
    main()
