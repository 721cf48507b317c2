"""Per-theme and per-cluster HealthBench breakdowns, as simple-evals ``healthbench_eval.py``.

Per sample (``tag_scores``): every example-level tag (``theme:...``, ``physician_agreed_category:...``)
gets the sample's overall HealthBench score; every rubric-level tag (``axis:...``, ``cluster:...``,
``level:...``) gets the HealthBench score over only the criteria carrying it, when those criteria
have positive points. Over the run (``summarize_tags``): each tag's mean over the samples that
have it, clipped to [0, 1]. Criteria judged ``error`` or ``cannot_assess`` are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from rubricate.rubric import Rubric
from rubricate.scoring._core import criterion_value, score_criteria
from rubricate.types import Verdict

__all__ = ["summarize_tags", "tag_scores"]


def tag_scores(
    rubric: Rubric, verdicts: Mapping[str, Verdict], example_tags: Sequence[str] = ()
) -> dict[str, float]:
    """The sample's score under each example-level and rubric-level tag (see the module docstring).

    Raises ``ValueError`` when a tag is both example-level and rubric-level: the two
    meanings of one name cannot be told apart in the summary.
    """
    pairs_by_tag: dict[str, list[tuple[float, float]]] = {}
    everything: list[tuple[float, float]] = []
    for criterion in rubric.criteria:
        verdict = verdicts.get(criterion.id)
        value = criterion_value(criterion, verdict) if verdict is not None else None
        if value is None:
            continue
        pair = (criterion.points, value)
        everything.append(pair)
        for tag in dict.fromkeys(criterion.tags):
            pairs_by_tag.setdefault(tag, []).append(pair)
    scores: dict[str, float] = {}
    overall = score_criteria(everything, "healthbench")
    if overall is not None:
        scores.update(dict.fromkeys(example_tags, overall))
    for tag, pairs in pairs_by_tag.items():
        if tag in scores:
            raise ValueError(f"tag '{tag}' is on the example and on one of its criteria")
        score = score_criteria(pairs, "healthbench")
        if score is not None:
            scores[tag] = score
    return scores


def summarize_tags(
    per_sample: Iterable[Mapping[str, float]], prefixes: Sequence[str] = ("theme:", "cluster:")
) -> dict[str, float]:
    """Clipped mean of each tag starting with one of ``prefixes`` over the samples that have it."""
    values: dict[str, list[float]] = {}
    for scores in per_sample:
        for tag, score in scores.items():
            if tag.startswith(tuple(prefixes)):
                values.setdefault(tag, []).append(score)
    return {
        tag: float(np.clip(np.mean(scores), 0.0, 1.0)) for tag, scores in sorted(values.items())
    }
