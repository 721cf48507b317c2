"""Checks around a run: its input before the first judge call, its outcome after the last.

``check_input`` streams the samples once before grading (a second read, not a copy in memory)
so that a bad line costs no judge call; ``run_failure`` is the rule that makes a run whose
verdicts are mostly errors a failed run, for ``rubricate grade`` and ``rubricate score`` alike;
``results_digest`` and ``stale_summary`` tie a summary.json to the results.jsonl it describes.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rubricate.errors import InputError
from rubricate.results import RunSummary
from rubricate.types import Sample

__all__ = [
    "InputCheck",
    "RunFailure",
    "check_input",
    "results_digest",
    "run_failure",
    "stale_summary",
    "status_fields",
]

logger = logging.getLogger(__name__)

_MAX_REASONS = 20


@dataclass
class InputCheck:
    """What the pre-pass found: samples and criteria to grade, and the items to be skipped."""

    samples: int = 0
    criteria: int = 0
    invalid: int = 0
    reasons: list[str] = field(default_factory=list)  # the first few, for the message


def check_input(
    items: Iterable[Sample | InputError],
    *,
    on_invalid: Literal["error", "skip"] = "error",
    needs_response: bool = True,
    source: str | None = None,
) -> InputCheck:
    """Read every item once, before any judge call.

    With ``on_invalid="error"`` the first bad item is raised (``InputError``, located by the
    reader); with ``"skip"`` bad items are counted (the run then skips the same ones). A sample
    without a response is bad when ``needs_response`` (no policy model writes one). No sample
    at all to grade is an ``InputError`` either way: such a run could only fail.
    """
    check = InputCheck()
    for item in items:
        if isinstance(item, Sample) and item.response is None and needs_response:
            item = InputError(
                f"sample '{item.id}' has no response: give one in the data, with "
                "--responses, or sample it with --policy-url/--policy-model",
                file=source,
                field="response",
            )
        if isinstance(item, InputError):
            if on_invalid == "error":
                raise item
            check.invalid += 1
            if len(check.reasons) < _MAX_REASONS:
                check.reasons.append(str(item))
            continue
        check.samples += 1
        check.criteria += len(item.rubric.criteria)
    if check.samples == 0:
        what = f"{source}: " if source else ""
        if check.invalid:
            raise InputError(
                f"{what}no sample to grade: all {check.invalid} item(s) are invalid "
                f"(the first: {check.reasons[0]})"
            )
        raise InputError(f"{what}no sample to grade")
    if check.invalid:
        logger.warning(
            "%d invalid item(s) will be skipped (the first: %s)", check.invalid, check.reasons[0]
        )
    return check


@dataclass(frozen=True, slots=True)
class RunFailure:
    """Why a run failed although it ran to its end.

    Attributes:
        rule: ``no_sample_scored`` (every sample's criteria ended in error or
            cannot_assess) or ``max_error_rate`` (more than that share of criteria in error).
        message: one sentence for the console and summary.json.
        error_rate: errors / criteria of the run, in [0, 1] (``None`` with no criteria).
    """

    rule: Literal["no_sample_scored", "max_error_rate"]
    message: str
    error_rate: float | None


def run_failure(summary: RunSummary, max_error_rate: float | None = None) -> RunFailure | None:
    """The rule a finished run breaks, or ``None``; the first rule checked wins.

    ``max_error_rate`` is the largest share of criteria in ``error`` a run may have (``None``:
    any share).
    """
    counts = summary.counts
    rate = counts.errors / counts.criteria if counts.criteria else None
    if summary.n_samples and summary.n_scored == 0:
        causes = []
        if counts.failed_calls:
            causes.append(f"{counts.failed_calls} judge calls failed")
        if counts.unparseable_replies:
            causes.append(f"{counts.unparseable_replies} replies could not be parsed")
        causes.append(f"{counts.errors} of {counts.criteria} criteria ended in error")
        if counts.cannot_assess:
            causes.append(f"{counts.cannot_assess} cannot_assess")
        return RunFailure(
            "no_sample_scored", "no sample could be scored: " + ", ".join(causes), rate
        )
    if max_error_rate is not None and rate is not None and rate > max_error_rate:
        return RunFailure(
            "max_error_rate",
            f"{counts.errors} of {counts.criteria} criteria ({rate:.1%}) ended in error, "
            f"more than --max-error-rate {max_error_rate:g}; the score leaves them out",
            rate,
        )
    return None


def status_fields(failure: RunFailure | None, max_error_rate: float | None) -> dict[str, Any]:
    """The ``status`` and ``failure`` keys of summary.json."""
    if failure is None:
        return {"status": "ok", "failure": None}
    return {
        "status": "failed",
        "failure": {
            "rule": failure.rule,
            "message": failure.message,
            "error_rate": failure.error_rate,
            "max_error_rate": max_error_rate,
        },
    }


def results_digest(path: str | Path) -> dict[str, Any]:
    """``{"file", "lines", "sha256"}`` of a results file, as summary.json names it."""
    digest = hashlib.sha256()
    lines = 0
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
            lines += chunk.count(b"\n")
    return {"file": Path(path).name, "lines": lines, "sha256": digest.hexdigest()}


def stale_summary(summary: dict[str, Any], results: str | Path) -> str | None:
    """Why ``summary`` does not describe ``results`` (``None``: it does, or names nothing)."""
    named = summary.get("results")
    if not isinstance(named, dict) or "sha256" not in named:
        return None
    try:
        actual = results_digest(results)
    except OSError:
        return None
    if actual["sha256"] == named.get("sha256"):
        return None
    return (
        f"it describes other results ({named.get('lines')} lines, sha256 "
        f"{str(named.get('sha256'))[:12]}…) than {results} ({actual['lines']} lines, sha256 "
        f"{actual['sha256'][:12]}…)"
    )
