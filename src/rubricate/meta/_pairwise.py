"""Accuracy of pairwise decisions by JudgeBench's rule (``meta-eval pairwise``).

Reads two shapes of one line per pair, both described by ``PairRecord``:

- JudgeBench's ``outputs/*.jsonl`` as its ``run_judge.py`` writes them: ``pair_id``,
  ``source``, ``label`` (``A>B`` / ``B>A``) and ``judgments``, one entry per trial (or
  ``null`` when the call failed), the first in the given order and the second with the
  responses swapped, each with a ``decision`` among ``A>B``, ``B>A``, ``A=B`` or ``null``
  in the positions the judge saw.
- rubricate's ``pairs.jsonl`` (written by ``rubricate compare``): the same fields, each
  trial also saying which response was shown first (``order``: ``AB`` or ``BA``) and
  keeping the judge's reply (``raw``), plus ``decisions``: the trials' decisions mapped
  back to the original positions, in trial order, and ``preference``, the net one.

The rule (JudgeBench ``utils/metrics.py``): each decision, in original positions, votes +1
when it equals the label and -1 when it is the opposite; a pair is correct when the sum is
positive, so a tie (``A=B``), a failed call and a pair whose two orders disagree are not.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, StrictStr, model_validator

from rubricate.errors import InputError
from rubricate.meta._io import read_records

__all__ = [
    "JUDGEBENCH_CATEGORIES",
    "Decision",
    "PairRecord",
    "PairTrial",
    "PairwiseGroup",
    "PairwiseReport",
    "flip_decision",
    "meta_eval_pairwise",
    "pairwise_accuracy",
    "read_pairs",
]

Decision = Literal["A>B", "B>A", "A=B"]
Order = Literal["AB", "BA"]
JUDGEBENCH_CATEGORIES = ("mmlu-pro", "livebench-reasoning", "livebench-math", "livecodebench")


def flip_decision(decision: Decision | None) -> Decision | None:
    """The same preference seen from the other order (``A=B`` and ``None`` stay)."""
    if decision == "A>B":
        return "B>A"
    if decision == "B>A":
        return "A>B"
    return decision


class PairTrial(BaseModel):
    """One judge call on a pair.

    Attributes:
        decision: in the positions the judge saw (``A`` = the response shown first);
            ``None`` when the reply gave no usable decision.
        order: which original response was shown first; when absent (JudgeBench) the
            first trial is ``AB`` and the second ``BA``.
        raw: the judge's reply (rubricate); JudgeBench keeps its prompt and reply in
            ``judgment`` instead.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    decision: Decision | None = None
    order: Order | None = None
    raw: str | None = None
    judgment: dict[str, Any] | None = None


class PairRecord(BaseModel):
    """One line of a pairs file: JudgeBench's output line or rubricate's ``pairs.jsonl`` line.

    Attributes:
        pair_id: unique within the file.
        source: where the pair comes from (JudgeBench: ``mmlu-pro-law``, ``livecodebench``, ...).
        label: the better response; pairs without one are counted and listed, not scored.
        judgments: one entry per trial, ``null`` for a failed call.
        decisions: the trials' decisions in the original positions (rubricate writes them;
            when given they must agree with ``judgments``).
        preference: the net preference rubricate derived (not used for scoring).
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    pair_id: StrictStr
    source: StrictStr = ""
    label: Literal["A>B", "B>A"] | None = None
    judgments: list[PairTrial | None] | None = None
    decisions: list[Decision | None] | None = None
    preference: Decision | None = None

    @model_validator(mode="after")
    def _consistent(self) -> PairRecord:
        if self.judgments is None and self.decisions is None:
            raise ValueError("needs 'judgments' (one per trial) or 'decisions'")
        if self.judgments is not None:
            for index, trial in enumerate(self.judgments):
                if index >= 2 and trial is not None and trial.order is None:
                    raise ValueError(f"judgments[{index}]: a third trial needs 'order' (AB or BA)")
            if self.decisions is not None and self._from_judgments() != self.decisions:
                raise ValueError(
                    "'decisions' disagree with the decisions of 'judgments' mapped to the original order"
                )
        return self

    def _from_judgments(self) -> list[Decision | None]:
        mapped: list[Decision | None] = []
        for index, trial in enumerate(self.judgments or []):
            if trial is None:
                mapped.append(None)
                continue
            order = trial.order or ("AB" if index == 0 else "BA")
            mapped.append(trial.decision if order == "AB" else flip_decision(trial.decision))
        return mapped

    def original_decisions(self) -> list[Decision | None]:
        """Each trial's decision in the original positions."""
        return list(self.decisions) if self.decisions is not None else self._from_judgments()


@dataclass(frozen=True, slots=True)
class PairwiseGroup:
    """Accuracy and consistency over a set of labelled pairs."""

    n_pairs: int
    correct: int
    ties: int  # net vote 0: A=B, failed calls, or orders that cancel out
    two_order_pairs: int
    consistent: int  # two-order pairs whose decisions all agree (and are not null)

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.n_pairs if self.n_pairs else None

    @property
    def consistency(self) -> float | None:
        return self.consistent / self.two_order_pairs if self.two_order_pairs else None

    def as_dict(self) -> dict[str, Any]:
        return {"accuracy": self.accuracy, "n_pairs": self.n_pairs, "consistency": self.consistency}


@dataclass(frozen=True, slots=True)
class PairwiseReport:
    """``meta-eval pairwise``: overall and per source; unlabelled pairs listed."""

    overall: PairwiseGroup
    by_source: dict[str, PairwiseGroup]
    unlabelled: list[str]

    def as_dict(self) -> dict[str, Any]:
        """Exactly ``{accuracy, n_pairs, consistency, by_source}``, accuracy as a fraction."""
        return {
            **self.overall.as_dict(),
            "by_source": {k: v.as_dict() for k, v in self.by_source.items()},
        }


def read_pairs(path: str | Path) -> list[PairRecord]:
    """All pairs of a file; a bad line or a repeated ``pair_id`` raises an ``InputError``."""
    pairs: list[PairRecord] = []
    seen: dict[str, int] = {}
    for number, pair in read_records(path, PairRecord):
        if pair.pair_id in seen:
            raise InputError(
                f"pair '{pair.pair_id}' appears again (first at line {seen[pair.pair_id]})",
                file=str(path),
                line=number,
                field="pair_id",
            )
        seen[pair.pair_id] = number
        pairs.append(pair)
    return pairs


def _group(pairs: Sequence[PairRecord]) -> PairwiseGroup:
    correct = ties = two_order = consistent = 0
    for pair in pairs:
        decisions = pair.original_decisions()
        net = sum(
            1 if d == pair.label else -1 if d == flip_decision(pair.label) else 0 for d in decisions
        )
        correct += net > 0
        ties += net == 0
        if len(decisions) >= 2:
            two_order += 1
            consistent += decisions[0] is not None and all(d == decisions[0] for d in decisions)
    return PairwiseGroup(len(pairs), correct, ties, two_order, consistent)


def _group_name(source: str, prefixes: Sequence[str]) -> str:
    return next((prefix for prefix in prefixes if source.startswith(prefix)), source)


def pairwise_accuracy(
    pairs: Iterable[PairRecord], *, group_prefixes: Sequence[str] = ()
) -> PairwiseReport:
    """Accuracy by JudgeBench's rule and consistency, overall and per source.

    ``group_prefixes`` report every source under the first prefix it starts with
    (``JUDGEBENCH_CATEGORIES`` gives JudgeBench's knowledge / reasoning / math / coding
    split); other sources stay as they are.
    """
    labelled: list[PairRecord] = []
    unlabelled: list[str] = []
    for pair in pairs:
        if pair.label is None:
            unlabelled.append(pair.pair_id)
        else:
            labelled.append(pair)
    groups: dict[str, list[PairRecord]] = {}
    for pair in labelled:
        groups.setdefault(_group_name(pair.source, group_prefixes), []).append(pair)
    return PairwiseReport(
        overall=_group(labelled),
        by_source={name: _group(groups[name]) for name in sorted(groups)},
        unlabelled=unlabelled,
    )


def meta_eval_pairwise(path: str | Path, *, group_prefixes: Sequence[str] = ()) -> PairwiseReport:
    """``pairwise_accuracy`` of a JudgeBench output file or a rubricate ``pairs.jsonl``."""
    return pairwise_accuracy(read_pairs(path), group_prefixes=group_prefixes)
