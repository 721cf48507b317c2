"""Reading what a report shows from one run directory (no judge call, nothing but its files)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rubricate.errors import InputError
from rubricate.meta import (
    CriterionLabel,
    PairRecord,
    PairwiseReport,
    pairwise_accuracy,
    read_criterion_labels,
    read_pairs,
    read_run,
    results_path,
)
from rubricate.results import SampleResult

__all__ = ["RunData", "load_run", "read_prices"]


@dataclass(slots=True)
class RunData:
    """A run directory's results (in file order), its summary and the optional side files.

    Attributes:
        name: the label the report gives the run (the directory's name).
        summary: summary.json as written (kept raw: ``native`` and ``length_adjusted``
            are added beside the ``RunSummary`` fields by the CLI); empty when absent.
        probes: probes.json when the directory holds one (``rubricate probe --out``).
        pairwise: accuracy of pairs.jsonl when the directory holds one.
        labels: human labels of its criteria (``--labels FILE``, else labels.jsonl there).
    """

    name: str
    path: Path
    results: list[SampleResult]
    summary: dict[str, Any] = field(default_factory=dict)
    probes: dict[str, Any] | None = None
    pairwise: PairwiseReport | None = None
    pairs: list[PairRecord] | None = None
    labels: list[tuple[int, CriterionLabel]] | None = None


def _json_object(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InputError(f"cannot read: {error}", file=str(path)) from error
    if not isinstance(value, dict):
        raise InputError("expected a JSON object", file=str(path))
    return value


def load_run(run: str | Path, labels: str | Path | None = None) -> RunData:
    """A run directory (or its results.jsonl) with whatever side files sit beside it."""
    results_file = results_path(run)
    directory = results_file.parent
    results = list(read_run(results_file).values())
    summary_file = directory / "summary.json"
    summary = _json_object(summary_file) if summary_file.is_file() else {}
    pairs = read_pairs(directory / "pairs.jsonl") if (directory / "pairs.jsonl").is_file() else None
    probes_file = directory / "probes.json"
    labels_file = Path(labels) if labels is not None else directory / "labels.jsonl"
    return RunData(
        name=directory.name or str(directory),
        path=directory,
        results=results,
        summary=summary,
        probes=_json_object(probes_file) if probes_file.is_file() else None,
        pairwise=pairwise_accuracy(pairs) if pairs is not None else None,
        pairs=pairs,
        labels=read_criterion_labels(labels_file)
        if labels is not None or labels_file.is_file()
        else None,
    )


def read_prices(path: str | Path) -> dict[str, dict[str, float]]:
    """A prices file: USD per million tokens, flat or per judge model.

    ``{"prompt": 0.15, "cached_prompt": 0.075, "completion": 0.6}`` applies to every judge;
    ``{"gpt-4.1": {...}, "*": {...}}`` picks the judge's model, else ``*``.
    """
    data = _json_object(Path(path))
    if all(isinstance(v, (int, float)) for v in data.values()):
        data = {"*": data}
    prices: dict[str, dict[str, float]] = {}
    for model, rates in data.items():
        if not isinstance(rates, dict):
            raise InputError("expected rates per million tokens", file=str(path), field=model)
        for key, rate in rates.items():
            if key not in ("prompt", "cached_prompt", "completion"):
                raise InputError(
                    "unknown rate (expected prompt, cached_prompt, completion)",
                    file=str(path),
                    field=f"{model}.{key}",
                )
            if isinstance(rate, bool) or not isinstance(rate, (int, float)) or rate < 0:
                raise InputError(
                    "a rate must be a number >= 0", file=str(path), field=f"{model}.{key}"
                )
        prices[model] = {k: float(v) for k, v in rates.items()}
    return prices
