"""Run figures the CLI adds to summary.json from results.jsonl: native and length-adjusted.

The grader writes each sample's native score (``native_score``, ``native``) but not the run's
figure on the benchmark's scale, and it does not record how long a response was; both are
known where the CLI streams the samples to the grader (``SampleFacts``), so the CLI computes
them after the run from results.jsonl and adds them to summary.json as ``native`` and
``length_adjusted``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rubricate.errors import ConfigError, InputError
from rubricate.results import SampleResult
from rubricate.runs import read_results
from rubricate.scoring import NativeScore, length_adjusted_score, summarize, summarize_native
from rubricate.types import Sample

__all__ = [
    "RESPONSE_CHARS",
    "SampleFacts",
    "add_to_summary",
    "length_figure",
    "located",
    "native_figure",
    "observed",
]

# The metadata key a results line may carry its response length under (in characters).
RESPONSE_CHARS = "response_chars"


@dataclass
class SampleFacts:
    """What the CLI saw of the samples it passed to the grader.

    Attributes:
        lengths: response length in characters by sample id, for responses known before
            grading (from the data, ``--responses`` or ``--response-source ideal``).
        schemes: the native scoring schemes the rubrics named (``Rubric.metadata["native"]``).
    """

    lengths: dict[str, int] = field(default_factory=dict)
    schemes: set[str] = field(default_factory=set)


def observed(
    items: Iterable[Sample | InputError], facts: SampleFacts
) -> Iterator[Sample | InputError]:
    """``items`` unchanged, recording each sample's response length and native scheme."""
    for item in items:
        if isinstance(item, Sample):
            if item.response is not None:
                facts.lengths[item.id] = len(item.response)
            scheme = item.rubric.metadata.get("native")
            if isinstance(scheme, str):
                facts.schemes.add(scheme)
        yield item


def native_figure(results: Iterable[Path], scheme: str) -> dict[str, Any] | None:
    """The run's score on the benchmark's own scale (``summarize_native``), or ``None``."""
    scores = [
        NativeScore(scheme, result.native_score, dict(result.native))
        for _, _, result in located(results)
        if result.native_score is not None or result.native
    ]
    run = summarize_native(scores)
    if run is None:
        return None
    return {"scheme": run.scheme, "score": run.score, "parts": run.parts, "n_scored": run.n_scored}


def located(paths: Iterable[Path]) -> Iterator[tuple[Path, int, SampleResult]]:
    """(file, line number, result) for every line of the results files."""
    for path in paths:
        for number, result in read_results(path):
            yield path, number, result


def length_figure(
    entries: Iterable[tuple[Path, int, SampleResult]],
    penalty: float,
    lengths: Mapping[str, int],
    *,
    seed: int = 0,
) -> dict[str, Any]:
    """HealthBench's length-adjusted run score: the clipped mean of
    ``score - penalty * (characters - 2000) / 500`` over the scored samples.

    A sample's length comes from its results line (``metadata.response_chars``), else from
    ``lengths``. Raises ``InputError`` naming the first scored line with neither.
    """
    if not math.isfinite(penalty) or penalty < 0:
        raise ConfigError(f"--length-penalty must be 0 or more, got {penalty}")
    adjusted: list[float | None] = []
    for path, number, result in entries:
        if result.score is None:
            adjusted.append(None)
            continue
        characters = result.metadata.get(RESPONSE_CHARS, lengths.get(result.sample_id))
        if not isinstance(characters, int):
            raise InputError(
                f"no response length for sample '{result.sample_id}': pass the graded "
                "responses with --responses FILE",
                file=str(path),
                line=number,
                field=f"metadata.{RESPONSE_CHARS}",
            )
        adjusted.append(length_adjusted_score(result.score, characters, penalty))
    run = summarize(adjusted, seed=seed)
    return {
        "penalty": penalty,
        "score": run.score,
        "bootstrap_std": run.bootstrap_std,
        "ci95": run.ci95,
        "n_scored": run.n_scored,
    }


def add_to_summary(path: Path, figures: Mapping[str, Any]) -> None:
    """Add ``figures`` as top-level keys of the summary.json at ``path``."""
    data = json.loads(path.read_text(encoding="utf-8"))
    data.update(figures)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def describe(figures: Mapping[str, Any]) -> list[str]:
    """One line per figure, for the console after the summary table."""
    lines: list[str] = []
    native = figures.get("native")
    if native is not None:
        parts = ", ".join(f"{k} {_fmt(v)}" for k, v in native["parts"].items())
        lines.append(
            f"native score ({native['scheme']}): {_fmt(native['score'])}"
            + (f"  ({parts})" if parts else "")
        )
    length = figures.get("length_adjusted")
    if length is not None:
        interval = f"  [{length['ci95'][0]:.3f}, {length['ci95'][1]:.3f}]" if length["ci95"] else ""
        lines.append(
            f"length-adjusted score (penalty {length['penalty']:g}): {_fmt(length['score'])}"
            + interval
        )
    return lines


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"
