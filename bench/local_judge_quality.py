"""How well the local judge models agree with hand labels, and how fast they are on the CPU.

Reads the hand-labelled check set (tests/data/judge_checks.jsonl: one criterion per line,
lines of the same response next to each other, so the judge's prefix reuse applies as in
real grading) and asks every installed local model through these prompt variants:

  rubricate       the shipped per-criterion prompt, scored by next-token probability
  explain         the shipped prompt asking for an explanation first, greedy text (--explain)
  plain-yes-no    rubricate's conversation/response block, then only "Does the response meet
                  the criterion? Answer yes or no.", scored by P(yes) vs P(no)

Figures: accuracy; balanced F1 (mean of F1 on met and on not_met); mean margin
(mean of P(true label) - 0.5); mean P(met) (a judge that always says met shows it here);
seconds per criterion (judge compute time); share of prompt tokens reused from the cache.
With --speed it also times an extra criterion on a ~500-token response, with and without
prefix reuse, in wall and process CPU seconds (CPU time holds up better on a busy machine).

    python bench/local_judge_quality.py [--models smollm2-135m,qwen2.5-coder-1.5b] [--limit N]
        [--explain] [--speed] [--misses] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rubricate.backends.llamacpp import LlamaCppJudge
from rubricate.errors import VerdictError
from rubricate.judge import build_request, load_template, parse_single_reply, render_shared
from rubricate.models import MODELS, model_status, resolve_model
from rubricate.rubric import Criterion, Rubric
from rubricate.types import JudgeRequest, Message, Sample

CHECKS = Path(__file__).resolve().parent.parent / "tests" / "data" / "judge_checks.jsonl"


@dataclass(frozen=True)
class Case:
    id: str
    sample: Sample
    criterion: Criterion
    label: str


def load_cases(path: Path, limit: int | None) -> list[Case]:
    cases = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            row = json.loads(line)
            criterion = Criterion(id=row["id"], text=row["criterion"], points=row["points"])
            sample = Sample(
                id=row["id"],
                messages=tuple(Message(m["role"], m["content"]) for m in row["conversation"]),
                rubric=Rubric(id=row["id"], criteria=(criterion,)),
                response=row["response"],
            )
            cases.append(Case(row["id"], sample, criterion, row["label"]))
    return cases[:limit] if limit is not None else cases


# --- prompt variants: each turns a case into a request and a reply into (label, P(met)) ---

Variant = Callable[[Case], JudgeRequest]


def rubricate_request(case: Case) -> JudgeRequest:
    template = load_template("per-criterion")
    return build_request(
        template,
        render_shared(case.sample),
        [case.criterion],
        max_tokens=24,
        want_probabilities=True,
    )


def explain_request(case: Case) -> JudgeRequest:
    template = load_template("per-criterion", explain=True)
    return build_request(template, render_shared(case.sample), [case.criterion], max_tokens=200)


def plain_request(case: Case) -> JudgeRequest:
    shared = render_shared(case.sample)
    question = f"Criterion: {case.criterion.text}\n\nDoes the response meet the criterion? Answer yes or no."
    return JudgeRequest(
        messages=(Message("user", shared + question),),
        criterion_ids=(case.criterion.id,),
        max_tokens=4,
        want_probabilities=True,
        choices=("yes", "no"),
        answer_prefix="Answer:",
        shared_prefix_chars=len(shared),
    )


VARIANTS: dict[str, Variant] = {
    "rubricate": rubricate_request,
    "explain": explain_request,
    "plain-yes-no": plain_request,
}


def decide(
    case: Case, text: str, probabilities: dict[str, float] | None
) -> tuple[str | None, float | None]:
    """The predicted label (None if unparseable) and P(met) when the judge gave probabilities."""
    if probabilities is not None and "yes" in probabilities:
        probabilities = {"met": probabilities["yes"], "not_met": probabilities["no"]}
    try:
        verdict = parse_single_reply(text, case.criterion, probabilities)
    except VerdictError:
        return None, None
    label = verdict.label if verdict.label in ("met", "not_met") else None
    return label, verdict.probability


# --- metrics ---------------------------------------------------------------------


def f1(truth: list[str], predicted: list[str | None], positive: str) -> float:
    tp = sum(t == positive and p == positive for t, p in zip(truth, predicted, strict=True))
    fp = sum(t != positive and p == positive for t, p in zip(truth, predicted, strict=True))
    fn = sum(t == positive and p != positive for t, p in zip(truth, predicted, strict=True))
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


@dataclass(frozen=True)
class Row:
    model: str
    variant: str
    n: int
    accuracy: float
    balanced_f1: float
    margin: float | None
    p_met: float | None
    unparsed: int
    s_per_criterion: float
    reused: float
    misses: tuple[str, ...]  # "id (label, P(met))" of the cases judged wrong


def evaluate(judge: LlamaCppJudge, model: str, variant: str, cases: list[Case]) -> Row:
    truth: list[str] = []
    predicted: list[str | None] = []
    p_met: list[float] = []
    margins: list[float] = []
    misses: list[str] = []
    seconds = 0.0
    prompt_tokens = cached_tokens = 0
    for case in cases:
        request = VARIANTS[variant](case)
        started = time.perf_counter()
        reply = judge.complete_sync(request)
        seconds += time.perf_counter() - started
        prompt_tokens += reply.usage.prompt_tokens
        cached_tokens += reply.usage.cached_prompt_tokens
        label, probability = decide(case, reply.text, reply.probabilities)
        truth.append(case.label)
        predicted.append(label)
        if label != case.label:
            shown = f"{probability:.2f}" if probability is not None else "-"
            misses.append(f"{case.id} ({case.label}, P(met)={shown})")
        if probability is not None:
            p_met.append(probability)
            margins.append((probability if case.label == "met" else 1 - probability) - 0.5)
    n = len(cases)
    return Row(
        model=model,
        variant=variant,
        n=n,
        accuracy=sum(t == p for t, p in zip(truth, predicted, strict=True)) / n,
        balanced_f1=(f1(truth, predicted, "met") + f1(truth, predicted, "not_met")) / 2,
        margin=statistics.fmean(margins) if margins else None,
        p_met=statistics.fmean(p_met) if p_met else None,
        unparsed=sum(p is None for p in predicted),
        s_per_criterion=seconds / n,
        reused=cached_tokens / prompt_tokens if prompt_tokens else 0.0,
        misses=tuple(misses),
    )


QUALITY_HEADER = (
    "| model | prompt | n | accuracy | balanced F1 | mean margin | mean P(met) | unparsed "
    "| s/criterion | prompt reused |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def quality_line(r: Row) -> str:
    def num(value: float | None, fmt: str) -> str:
        return format(value, fmt) if value is not None else "-"

    return (
        f"| {r.model} | {r.variant} | {r.n} | {r.accuracy:.3f} | {r.balanced_f1:.3f} | "
        f"{num(r.margin, '+.3f')} | {num(r.p_met, '.3f')} | {r.unparsed} | "
        f"{r.s_per_criterion:.2f} | {r.reused:.0%} |"
    )


# --- speed of an extra criterion ---------------------------------------------------

_PARAGRAPH = (
    "Migraine is a common condition that causes moderate to severe headaches, often on one side "
    "of the head, sometimes with nausea and sensitivity to light or sound. Keeping a diary of "
    "attacks helps to find triggers such as missed meals, poor sleep, stress or some foods. "
    "Simple painkillers like ibuprofen or paracetamol work best when taken early in an attack, "
    "but using them on more than ten days a month can cause medication-overuse headaches. "
)


def speed_sample(criteria: int = 6) -> Sample:
    response = " ".join(_PARAGRAPH for _ in range(5))  # about 500 tokens
    return Sample(
        id="speed",
        messages=(Message("user", "I keep getting migraines. What can I do about them?"),),
        rubric=Rubric(
            id="speed",
            criteria=tuple(
                Criterion(id=f"c{i}", text=f"Mentions point number {i} of the advice given.")
                for i in range(criteria)
            ),
        ),
        response=response,
    )


@dataclass(frozen=True)
class Speed:
    wall_s: float  # mean wall time per criterion after the first
    cpu_s: float  # mean process CPU time per criterion after the first (less sensitive to a busy machine)
    prompt_tokens: int
    reused_tokens: int


def time_extra_criteria(path: Path, threads: int | None, reuse: bool) -> Speed:
    """Time the criteria after the first of one sample with a ~500-token response."""
    judge = LlamaCppJudge(path, n_threads=threads, reuse_prefix=reuse)
    try:
        sample = speed_sample()
        template, shared = load_template("per-criterion"), render_shared(sample)
        wall, cpu = [], []
        for i, criterion in enumerate(sample.rubric.criteria):
            request = build_request(
                template, shared, [criterion], max_tokens=24, want_probabilities=True
            )
            started, started_cpu = time.perf_counter(), time.process_time()
            reply = judge.complete_sync(request)
            if i:
                wall.append(time.perf_counter() - started)
                cpu.append(time.process_time() - started_cpu)
        usage = reply.usage
        return Speed(
            statistics.fmean(wall),
            statistics.fmean(cpu),
            usage.prompt_tokens,
            usage.cached_prompt_tokens,
        )
    finally:
        judge.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--models", help="comma-separated model names (default: every installed one)"
    )
    parser.add_argument("--limit", type=int, help="use only the first N cases (0: timing only)")
    parser.add_argument("--misses", action="store_true", help="list the cases each run got wrong")
    parser.add_argument(
        "--explain", action="store_true", help="also run the explain (text) variant"
    )
    parser.add_argument(
        "--speed",
        action="store_true",
        help="also time extra criteria with and without prefix reuse",
    )
    parser.add_argument("--threads", type=int, help="CPU threads (default: all cores)")
    parser.add_argument("--data", type=Path, default=CHECKS, help="check set (JSONL)")
    args = parser.parse_args()

    if args.models:
        names = [n.strip() for n in args.models.split(",") if n.strip()]
    else:
        names = [n for n in MODELS if model_status(n).installed]
    cases = load_cases(args.data, args.limit)
    variants = ["rubricate", "plain-yes-no"] + (["explain"] if args.explain else [])
    print(
        f"{len(cases)} cases ({sum(c.label == 'met' for c in cases)} met), models: {', '.join(names)}",
        flush=True,
    )

    print(QUALITY_HEADER, flush=True)  # rows follow as they finish: a full run takes minutes
    speed: list[tuple[str, Speed, Speed]] = []
    for name in names:
        path = resolve_model(name)
        judge = LlamaCppJudge(path, n_threads=args.threads)
        try:
            for variant in variants if cases else ():
                row = evaluate(judge, name, variant, cases)
                print(quality_line(row), flush=True)
                if args.misses:
                    print("  wrong: " + "; ".join(row.misses), flush=True)
        finally:
            judge.close()
        if args.speed:
            warm = time_extra_criteria(path, args.threads, reuse=True)
            cold = time_extra_criteria(path, args.threads, reuse=False)
            speed.append((name, warm, cold))

    if speed:
        print(
            f"\nper extra criterion, response of ~500 tokens, threads={args.threads or 'all'}\n"
            "| model | prompt tokens | reused | wall s, reuse | wall s, no reuse | CPU s, reuse "
            "| CPU s, no reuse |\n|---|---:|---:|---:|---:|---:|---:|"
        )
        for name, warm, cold in speed:
            print(
                f"| {name} | {warm.prompt_tokens} | {warm.reused_tokens} | {warm.wall_s:.2f} | "
                f"{cold.wall_s:.2f} | {warm.cpu_s:.2f} | {cold.cpu_s:.2f} |"
            )


if __name__ == "__main__":
    main()
