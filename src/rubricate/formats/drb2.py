"""DeepResearch Bench II ``tasks_and_rubrics.jsonl``: research tasks with three rubric lists.

A line holds ``idx``, ``id``, ``language``, ``theme``, ``prompt`` (the task as the agent
received it, with the rule naming the article it must not read) and ``content`` with
``rubric`` = ``{info_recall: [str], analysis: [str], presentation: [str]}`` and ``blocked`` =
``{title, authors, urls}``. Each item becomes a criterion on a ``blocking`` scale tagged
``axis:<dimension>``: met (1), not met (0) or blocked (-1: the report relies on the blocked
source), and the blocked source is shown to the judge as the sample's context. An item
repeated inside one dimension is judged and counted once, as DRB-II's aggregation (which
keys items by their text) counts it; ``metadata["duplicates_dropped"]`` says how many were.
The native score is DRB-II's: per-dimension and total fraction of items met, and the
blocked rate. The sample id is ``idx``; the report comes from ``--responses``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from rubricate.errors import InputError
from rubricate.formats._records import (
    get_path,
    messages_from,
    read_jsonl_numbered,
    unique_samples,
)
from rubricate.rubric import Criterion, Rubric, Scale, derive_criterion_id
from rubricate.types import Sample

__all__ = ["blocked_context", "read_drb2", "sample_from_drb2"]

_BLOCKING = Scale(kind="blocking")
# The same names as rubricate.scoring.DRB2_DIMENSIONS (formats may not import scoring).
_DIMENSIONS = ("info_recall", "analysis", "presentation")


def blocked_context(blocked: Any) -> str:
    """The judge's context for one task: the article and URLs the report must not rely on."""
    if not isinstance(blocked, Mapping):
        raise ValueError("'content.blocked' must be an object with title, authors and urls")
    title = blocked.get("title")
    urls = blocked.get("urls") or []
    authors = blocked.get("authors") or []
    if not isinstance(title, str) or not title.strip():
        raise ValueError("'content.blocked.title' must be a non-empty string")
    if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
        raise ValueError("'content.blocked.urls' must be a list of strings")
    if not isinstance(authors, list) or not all(isinstance(a, str) for a in authors):
        raise ValueError("'content.blocked.authors' must be a list of strings")
    lines = [
        "The report must not rely on this article (a criterion is blocked when the report's "
        "support for it comes from this source):",
        f"Title: {title}",
    ]
    if authors:
        lines.append("Authors: " + ", ".join(authors))
    lines.extend(f"URL: {url}" for url in urls)
    return "\n".join(lines)


def _criteria(rubric: Any) -> tuple[list[Criterion], int]:
    if not isinstance(rubric, Mapping):
        raise ValueError(
            "'content.rubric' must be an object of info_recall, analysis, presentation"
        )
    criteria: list[Criterion] = []
    dropped = 0
    for dimension in _DIMENSIONS:
        items = rubric.get(dimension, [])
        where = f"content.rubric.{dimension}"
        if not isinstance(items, list):
            raise ValueError(f"'{where}' must be a list of strings")
        seen: set[str] = set()
        for index, text in enumerate(items):
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"'{where}[{index}]' must be a non-empty string")
            if text in seen:
                dropped += 1
                continue
            seen.add(text)
            criteria.append(
                Criterion(
                    id=f"{dimension}:{derive_criterion_id(text)}",
                    text=text,
                    tags=(f"axis:{dimension}",),
                    scale=_BLOCKING,
                )
            )
    unknown = sorted(set(rubric) - set(_DIMENSIONS))
    if unknown:
        raise ValueError(f"'content.rubric' has unknown dimensions: {', '.join(unknown)}")
    if not criteria:
        raise ValueError("'content.rubric' has no items")
    return criteria, dropped


def sample_from_drb2(record: Mapping[str, Any]) -> Sample:
    """One DRB-II task as a Sample; ``KeyError``/``ValueError`` name the bad field."""
    idx = record.get("idx")
    if idx is None:
        raise KeyError("idx")
    if isinstance(idx, bool) or not isinstance(idx, (int, str)) or str(idx) == "":
        raise ValueError(f"'idx' must be an integer or a non-empty string, got {idx!r}")
    if "prompt" not in record:
        raise KeyError("prompt")
    messages = messages_from(record["prompt"], "prompt")
    criteria, dropped = _criteria(get_path(record, "content.rubric"))
    context = blocked_context(get_path(record, "content.blocked"))
    sample_id = str(idx)
    rubric = Rubric(id=sample_id, criteria=tuple(criteria), metadata={"native": "drb2"})
    metadata: dict[str, Any] = {
        "benchmark": "drb2",
        "judge_context": context,
        "duplicates_dropped": dropped,
    } | {key: record[key] for key in ("id", "language", "theme") if key in record}
    response = record.get("response")
    if response is not None and not isinstance(response, str):
        raise ValueError("'response' must be a string")
    return Sample(sample_id, messages, rubric, response, metadata)


def read_drb2(path: str | Path) -> Iterator[Sample | InputError]:
    """Samples of a DRB-II tasks file; a bad line, or an ``idx`` given twice, yields an
    ``InputError`` naming it."""
    numbered = read_jsonl_numbered(path, lambda record, _: sample_from_drb2(record))
    yield from unique_samples(numbered, str(path), "idx")
