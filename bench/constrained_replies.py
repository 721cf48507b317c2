"""How often a small local judge answers out of format, with and without a grammar.

Reads the hand-labelled check set (tests/data/judge_checks.jsonl, one criterion per line)
and asks the embedded llama.cpp judge (default SmolLM2-135M) each check in explain mode
(an explanation, then the verdict: generated text, where a small model drifts), twice in a
row: free text, then under the GBNF grammar compiled from the reply's JSON schema
(``--constrain json_schema``). Both variants see the same prompt and the same machine load.
With ``--evidence`` both use the evidence templates, and the quotes are checked.

Figures per variant: share of unparseable replies (no verdict after parsing: the engine
would re-ask, then record an error); accuracy over all checks (unparseable counts as wrong)
and over parsed ones; seconds per reply; with --evidence, how met verdicts were supported.

    python bench/constrained_replies.py [--model smollm2-135m] [--limit 20] [--evidence]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from rubricate.backends.llamacpp import LlamaCppJudge
from rubricate.errors import VerdictError
from rubricate.judge import (
    build_request,
    check_evidence,
    evidence_status,
    load_template,
    parse_single_reply,
    render_shared,
    reply_schema,
)
from rubricate.models import resolve_model
from rubricate.rubric import Criterion, Rubric
from rubricate.types import Message, Sample

CHECKS = Path(__file__).resolve().parent.parent / "tests" / "data" / "judge_checks.jsonl"


@dataclass
class Tally:
    n: int = 0
    unparseable: int = 0
    correct: int = 0
    seconds: float = 0.0
    support: dict[str, int] = field(default_factory=dict)

    def row(self, name: str) -> str:
        parsed = self.n - self.unparseable
        accuracy_parsed = self.correct / parsed if parsed else float("nan")
        support = " ".join(f"{k}={v}" for k, v in sorted(self.support.items()))
        return (
            f"{name:<10} {self.n:>4} {self.unparseable / self.n:>12.3f} "
            f"{self.correct / self.n:>9.3f} {accuracy_parsed:>12.3f} "
            f"{self.seconds / self.n:>8.2f}  {support}"
        )


def load(limit: int) -> list[tuple[Sample, Criterion, str]]:
    cases = []
    for line in CHECKS.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        criterion = Criterion(id=row["id"], text=row["criterion"], points=float(row["points"]))
        sample = Sample(
            id=row["id"],
            messages=tuple(Message(m["role"], m["content"]) for m in row["conversation"]),
            rubric=Rubric(id=row["id"], criteria=(criterion,)),
            response=row["response"],
        )
        cases.append((sample, criterion, row["label"]))
    return cases[:limit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--limit", type=int, default=20, help="first N checks (bounds the run)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-tokens", type=int, default=200, help="as the grader: 40 + 160")
    parser.add_argument("--evidence", action="store_true")
    args = parser.parse_args()

    judge = LlamaCppJudge(
        resolve_model(args.model), n_threads=args.threads, n_ctx=4096, explain=True
    )
    template = load_template("per-criterion", explain=True, evidence=args.evidence)
    tallies = {"free": Tally(), "grammar": Tally()}
    started = time.perf_counter()
    for sample, criterion, label in load(args.limit):
        shared = render_shared(sample)
        schema = reply_schema([criterion], explain=True, evidence=args.evidence)
        said = []
        for name, constraint in (("free", None), ("grammar", schema)):
            request = build_request(
                template, shared, [criterion], max_tokens=args.max_tokens, reply_schema=constraint
            )
            reply = judge.complete_sync(request)
            tally = tallies[name]
            tally.n += 1
            tally.seconds += reply.latency_s
            try:
                verdict = parse_single_reply(
                    reply.text, criterion, shown=shared, evidence=args.evidence
                )
            except VerdictError:
                tally.unparseable += 1
                said.append(f"{name}=unparseable({reply.latency_s:.0f}s)")
                continue
            said.append(f"{name}={verdict.label}({reply.latency_s:.0f}s)")
            tally.correct += verdict.label == label
            if args.evidence:
                status = evidence_status(check_evidence(verdict, sample.response or ""))
                if status is not None:
                    tally.support[status] = tally.support.get(status, 0) + 1
        print(f"  {sample.id} label={label} " + " ".join(said), flush=True)
    judge.close()
    first = tallies["free"]
    print(
        f"model {args.model}, explain mode{' with evidence' if args.evidence else ''}, "
        f"first {first.n} checks of {CHECKS.name}, max_tokens {args.max_tokens}, "
        f"{args.threads} thread(s), {time.perf_counter() - started:.0f} s in all"
    )
    print("variant       n  unparseable  accuracy  acc(parsed)   s/reply  met support")
    for name, tally in tallies.items():
        print(tally.row(name))
    free, grammar = tallies["free"], tallies["grammar"]
    if free.unparseable:
        print(f"unparseable share, grammar / free: {grammar.unparseable / free.unparseable:.2f}x")
    print(f"seconds per reply, grammar / free: {grammar.seconds / free.seconds:.2f}x")


if __name__ == "__main__":
    main()
