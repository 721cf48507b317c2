"""``refine``: recursive decompose-and-filter of a rubric over graded responses.

Each round grades every response with the current criteria (through the ``Grader``, so cached
verdicts cost nothing), then: drops criteria whose verdicts disagree with the preference
labels (misaligned), drops near-duplicates (verdict correlation or text similarity), and
splits criteria that nearly every response meets into finer ones. Children are graded in the
next round; a criterion is split at most once and only above ``max_depth``, so the recursion
stops. Finally, correlation-aware weights replace the points. Every step goes into the log.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rubricate.engine import Grader
from rubricate.errors import ConfigError
from rubricate.generate._dedup import text_similarity
from rubricate.generate._templates import load_generation_template
from rubricate.generate._types import Generated, GenerationItem
from rubricate.generate._validate import Rules
from rubricate.generate._weights import (
    correlation_weights,
    goodness_matrix,
    preference_differences,
    redundant_pairs,
    satisfaction_rates,
)
from rubricate.generate._write import Writer
from rubricate.results import SampleResult
from rubricate.rubric import Criterion, Rubric
from rubricate.scoring import score_sample
from rubricate.types import Sample, Verdict

__all__ = ["RefineOptions", "refine"]

logger = logging.getLogger(__name__)

_SHOWN_RESPONSE_CHARS = 1500


@dataclass(frozen=True, slots=True)
class RefineOptions:
    """How to refine.

    Attributes:
        max_depth: how many times a criterion's descendants may be split again (0: never split).
        saturation: split a criterion whose mean goodness over responses is at least this.
        max_children: at most this many finer criteria per split (at least 2).
        misaligned_margin: drop a criterion whose mean better-minus-worse goodness is below -margin.
        correlation_threshold: criteria whose verdicts correlate at least this much are duplicates.
        text_threshold: criteria whose text similarity is at least this are duplicates.
        min_rows_for_correlation: responses needed before verdict correlation is trusted.
        max_criteria: stop splitting once the rubric has this many criteria.
        weight: replace points by correlation-aware weights (total |points| kept).
        ridge: added to the covariance diagonal before solving.
    """

    max_depth: int = 2
    saturation: float = 0.9
    max_children: int = 4
    misaligned_margin: float = 0.0
    correlation_threshold: float = 0.95
    text_threshold: float = 0.8
    min_rows_for_correlation: int = 4
    max_criteria: int = 24
    weight: bool = True
    ridge: float = 1e-3

    def __post_init__(self) -> None:
        if self.max_depth < 0 or self.max_children < 2:
            raise ConfigError("max_depth must be >= 0 and max_children >= 2")
        if not 0.0 < self.saturation <= 1.0:
            raise ConfigError("saturation must be in (0, 1]")


def _verdicts(result: SampleResult) -> dict[str, Verdict]:
    return {
        r.criterion_id: Verdict(r.criterion_id, r.verdict, r.probability, r.level, r.explanation)
        for r in result.verdicts
    }


def _agreement(
    scores: Sequence[float | None], preferences: Sequence[tuple[int, int]]
) -> float | None:
    """Share of labelled pairs the scores order correctly (ties and missing scores count as wrong)."""
    if not preferences:
        return None
    right = 0
    for better, worse in preferences:
        high, low = scores[better], scores[worse]
        if high is not None and low is not None and high > low:
            right += 1
    return right / len(preferences)


class _Refinement:
    """The state of one item's refinement: criteria, their depths and the step log."""

    def __init__(
        self, item: GenerationItem, writer: Writer, grader: Grader, options: RefineOptions
    ) -> None:
        self.item, self.writer, self.grader, self.options = item, writer, grader, options
        self.criteria: list[Criterion] = list(item.rubric.criteria) if item.rubric else []
        self.depth = {c.id: 0 for c in self.criteria}
        self.tried: set[str] = set()
        self.log: list[dict[str, Any]] = []

    def step(self, action: str, criterion: Criterion, **info: Any) -> None:
        entry = {"step": action, "criterion_id": criterion.id, "criterion": criterion.text, **info}
        self.log.append(entry)
        logger.info("refine %s: %s %r %s", self.item.id, action, criterion.text, info or "")

    async def grade(self) -> tuple[np.ndarray, list[dict[str, Verdict]], list[float | None]]:
        rubric = Rubric(id=self.item.id, criteria=tuple(self.criteria))
        # One response after another: a prefix-caching judge then keeps each response hot
        # (the Grader still runs a response's criteria concurrently).
        results = [
            await self.grader.grade_sample(
                Sample(f"{self.item.id}#{i}", self.item.messages, rubric, text)
            )
            for i, text in enumerate(self.item.responses)
        ]
        verdicts = [_verdicts(r) for r in results]
        return goodness_matrix(self.criteria, verdicts), verdicts, [r.score for r in results]

    def keep_columns(self, matrix: np.ndarray, drop: set[int]) -> np.ndarray:
        self.criteria = [c for j, c in enumerate(self.criteria) if j not in drop]
        return matrix[:, [j for j in range(matrix.shape[1]) if j not in drop]]

    def drop_misaligned(self, matrix: np.ndarray) -> np.ndarray:
        preferences = self.item.preferences
        if not preferences:
            return matrix
        diff = preference_differences(matrix, preferences)
        drop = {j for j in range(len(self.criteria)) if diff[j] < -self.options.misaligned_margin}
        if len(drop) == len(self.criteria):  # never empty the rubric: keep the least misaligned
            drop.discard(int(np.argmax(diff)))
        for j in sorted(drop):
            self.step(
                "drop_misaligned", self.criteria[j], better_minus_worse=round(float(diff[j]), 4)
            )
        return self.keep_columns(matrix, drop)

    def drop_duplicates(self, matrix: np.ndarray) -> np.ndarray:
        options, n = self.options, len(self.criteria)
        candidates: list[tuple[float, int, int, str]] = []
        if matrix.shape[0] >= options.min_rows_for_correlation:
            candidates += [
                (r, i, j, "verdict_correlation")
                for i, j, r in redundant_pairs(matrix, options.correlation_threshold)
            ]
        texts = [c.text for c in self.criteria]
        vectors = self.writer.embedder.encode(texts) if self.writer.embedder and n > 1 else None
        for i in range(n):
            for j in range(i + 1, n):
                if vectors is not None:
                    similarity, by = float(vectors[i] @ vectors[j]), "embedding_similarity"
                    threshold = self.writer.options.dedup_threshold
                else:
                    similarity, by = text_similarity(texts[i], texts[j]), "text_similarity"
                    threshold = options.text_threshold
                if similarity >= threshold:
                    candidates.append((similarity, i, j, by))
        preferences = self.item.preferences
        diff = preference_differences(matrix, preferences) if preferences else None
        drop: set[int] = set()
        for similarity, i, j, by in sorted(candidates, key=lambda c: (-c[0], c[1], c[2])):
            if i in drop or j in drop:
                continue
            # Keep the more discriminative one when labels say which; else the earlier one.
            loser, winner = (i, j) if diff is not None and diff[i] < diff[j] else (j, i)
            drop.add(loser)
            self.step(
                "drop_duplicate",
                self.criteria[loser],
                of=self.criteria[winner].id,
                by=by,
                similarity=round(similarity, 4),
            )
        return self.keep_columns(matrix, drop)

    async def split(self, parent: Criterion, column: np.ndarray) -> list[Criterion] | None:
        template = load_generation_template("decompose_v1")
        met = [self.item.responses[i] for i in np.flatnonzero(column >= 0.5)[:2]]
        examples = "".join(
            f"\nA response that meets it:\n<response-example>\n{text[:_SHOWN_RESPONSE_CHARS]}\n</response-example>\n"
            for text in met
        )
        messages = template.render(
            prompt=self.item.prompt_text,
            criterion=parent.text,
            examples=examples,
            max_children=self.options.max_children,
        )
        rules = Rules(context="\n".join([self.item.prompt_text, parent.text]))
        written = await self.writer.write(
            messages, rules, max_criteria=self.options.max_children, min_criteria=2
        )
        if not written.ok:
            self.step("split_failed", parent, reason=written.error)
            return None
        others = {c.id for c in self.criteria}
        children = [c for c in written.criteria if c.id not in others]
        if len(children) < 2:
            self.step("split_failed", parent, reason="fewer than 2 new criteria")
            return None
        return children

    async def decompose(self, matrix: np.ndarray) -> bool:
        rates = satisfaction_rates(matrix)
        changed = False
        for parent, rate, column in list(zip(self.criteria, rates, matrix.T, strict=True)):
            if len(self.criteria) >= self.options.max_criteria:
                break
            if (
                np.isnan(rate)
                or rate < self.options.saturation
                or self.depth[parent.id] >= self.options.max_depth
                or parent.id in self.tried
            ):
                continue
            self.tried.add(parent.id)
            children = await self.split(parent, column)
            if not children:
                continue
            at = self.criteria.index(parent)
            self.criteria[at : at + 1] = children
            for child in children:
                self.depth[child.id] = self.depth[parent.id] + 1
            self.step(
                "split", parent, satisfaction=round(float(rate), 4), into=[c.text for c in children]
            )
            changed = True
        return changed

    def reweight(self, matrix: np.ndarray) -> None:
        preferences = self.item.preferences
        diff = preference_differences(matrix, preferences) if preferences else None
        weights = correlation_weights(matrix, diff, ridge=self.options.ridge)
        if weights is None:
            self.log.append(
                {"step": "weights_undefined", "reason": "all weights are zero; points kept"}
            )
            return
        total = sum(abs(c.points) for c in self.criteria)
        new = [
            c.model_copy(update={"points": round(float(np.copysign(w * total, c.points)), 3)})
            for c, w in zip(self.criteria, weights, strict=True)
        ]
        if not any(c.points > 0 for c in new):
            self.log.append(
                {
                    "step": "weights_undefined",
                    "reason": "no positive criterion would remain; points kept",
                }
            )
            return
        for old, c in zip(self.criteria, new, strict=True):
            self.step(
                "weight" if c.points else "drop_zero_weight", old, points=c.points, was=old.points
            )
        self.criteria = [c for c in new if c.points != 0]


async def refine(
    item: GenerationItem, writer: Writer, grader: Grader, options: RefineOptions | None = None
) -> Generated:
    """Refine ``item.rubric`` over ``item.responses`` (and ``item.preferences`` when labelled)."""
    options = options or RefineOptions()
    version = load_generation_template("decompose_v1").version
    if item.rubric is None or not item.responses:
        return Generated(
            item,
            "refine",
            "failed",
            version,
            source_ids=[item.id],
            reason="refine needs a rubric and responses to grade",
        )
    state = _Refinement(item, writer, grader, options)
    matrix, verdicts, scores = await state.grade()
    before = _agreement(scores, item.preferences)
    rounds = 1
    while True:
        matrix = state.drop_misaligned(matrix)
        matrix = state.drop_duplicates(matrix)
        if not await state.decompose(matrix):
            break
        matrix, verdicts, scores = await state.grade()
        rounds += 1
    if options.weight:
        state.reweight(matrix)
    rubric = Rubric(id=item.id, criteria=tuple(state.criteria))
    after = [score_sample(rubric, v, method=grader.options.method).score for v in verdicts]
    details = {
        "log": state.log,
        "rounds": rounds,
        "criteria_before": len(item.rubric.criteria),
        "criteria_after": len(state.criteria),
        "pairwise_agreement_before": before,
        "pairwise_agreement_after": _agreement(after, item.preferences),
    }
    return Generated(
        item,
        "refine",
        "kept",
        version,
        state.criteria,
        source_ids=[item.id],
        details=details,
        judged=True,
    )
