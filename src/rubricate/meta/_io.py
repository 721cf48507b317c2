"""Reading the files meta-evaluation compares: run results and JSONL label files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from rubricate.errors import InputError
from rubricate.formats import iter_jsonl
from rubricate.results import SampleResult
from rubricate.runs import read_results

__all__ = ["read_records", "read_run", "results_path"]

Model = TypeVar("Model", bound=BaseModel)


def results_path(run: str | Path) -> Path:
    """``results.jsonl`` of a run directory, or ``run`` itself when it is a file."""
    path = Path(run)
    if path.is_dir():
        path = path / "results.jsonl"
    if not path.is_file():
        raise InputError(
            "no results.jsonl here (expected a run directory or its results file)", file=str(run)
        )
    return path


def read_run(run: str | Path) -> dict[str, SampleResult]:
    """A run's results by sample id; a sample id seen twice is an ``InputError`` naming both lines."""
    path = results_path(run)
    results: dict[str, SampleResult] = {}
    lines: dict[str, int] = {}
    for number, result in read_results(path):
        if result.sample_id in results:
            raise InputError(
                f"sample '{result.sample_id}' appears again (first at line {lines[result.sample_id]}); "
                "a run directory holds one result per sample",
                file=str(path),
                line=number,
                field="sample_id",
            )
        results[result.sample_id] = result
        lines[result.sample_id] = number
    return results


def read_records(path: str | Path, model: type[Model]) -> Iterator[tuple[int, Model]]:
    """(line number, validated record) per line; the first bad line raises an ``InputError``."""
    name = str(path)
    for number, record in iter_jsonl(path):
        if isinstance(record, InputError):
            raise record
        try:
            yield number, model.model_validate(record)
        except ValidationError as error:
            first = error.errors()[0]
            location = ".".join(str(part) for part in first["loc"]) or None
            raise InputError(first["msg"], file=name, line=number, field=location) from error
