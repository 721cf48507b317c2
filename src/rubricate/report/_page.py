"""One self-contained HTML page: tables and SVG plots rendered here, samples drawn by a small script.

Everything the page shows is inside the file: the style sheet, the script and the sample data
(JSON, gzip-compressed and base64-encoded, unpacked in the browser by ``DecompressionStream``,
so a 5,000-sample run stays small enough to mail). Nothing is fetched when it is viewed.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any

from rubricate.engine import evidence_support
from rubricate.meta import sample_tags
from rubricate.report._labels import check_labels, labels_section
from rubricate.report._load import RunData, load_run, read_prices
from rubricate.report._sections import (
    calibration_section,
    comparison_section,
    criteria_section,
    header_section,
    pairwise_section,
    probes_section,
    scores_section,
)
from rubricate.results import SampleResult
from rubricate.types import Sample
from rubricate.version import __version__

__all__ = ["build_report", "write_report"]

_MESSAGE_KEYS = ("prompt", "messages", "conversation")


def _messages(metadata: dict[str, Any]) -> list[dict[str, str]] | None:
    for key in _MESSAGE_KEYS:
        value = metadata.get(key)
        if isinstance(value, list) and all(
            isinstance(m, dict) and isinstance(m.get("content"), str) for m in value
        ):
            return [{"role": str(m.get("role", "")), "content": m["content"]} for m in value]
        if isinstance(value, str):
            return [{"role": "user", "content": value}]
    return None


def _sample_data(run: RunData, samples: Mapping[str, Sample]) -> dict[str, Any]:
    """Compact rows for the script: criterion texts and tag lists interned once.

    The conversation and response come from the result's metadata when stored there, else
    from ``samples`` (the data the run was graded from, when the caller has it).
    """
    texts: dict[str, int] = {}
    evidence = any(r.evidence is not None for result in run.results for r in result.verdicts)

    def intern(text: str) -> int:
        return texts.setdefault(text, len(texts))

    rows = []
    for result in run.results:
        response = result.metadata.get("response")
        messages = _messages(result.metadata)
        source = samples.get(result.sample_id)
        if source is not None:
            if messages is None:
                messages = [{"role": m.role, "content": m.content} for m in source.messages]
            if not isinstance(response, str):
                response = source.response
        rows.append(
            {
                "id": result.sample_id,
                "score": result.score,
                "axes": result.axes,
                # Criterion texts, not ids: the list and the detail view name what failed.
                "gates": [
                    r.criterion for r in result.verdicts if r.criterion_id in result.gate_failed
                ],
                "tags": sample_tags(result),
                "messages": messages,
                "response": response if isinstance(response, str) else None,
                "v": [
                    [
                        intern(r.criterion),
                        r.points,
                        r.verdict,
                        r.probability,
                        r.level,
                        r.explanation,
                        r.required,
                        intern(" ".join(r.tags)),
                    ]
                    for r in result.verdicts
                ],
            }
        )
        if result.raw_replies is not None:
            _add_replies(rows[-1], result)
        if evidence:
            _add_evidence(rows[-1], result)
    return {"texts": list(texts), "samples": rows, "evidence": evidence}


def _add_evidence(row: dict[str, Any], result: SampleResult) -> None:
    """Per criterion (``e``): its quotes as (text, found in the response), ``None`` when none
    were asked for; the judge's label when ``--evidence strict`` overrode it; and the
    support of a met (``verified``, ``unverified``, ``missing``, else ``None``)."""
    row["e"] = [
        [
            [[q.quote, q.found] for q in r.evidence] if r.evidence is not None else None,
            r.judged,
            evidence_support(r),
        ]
        for r in result.verdicts
    ]


def _add_replies(row: dict[str, Any], result: SampleResult) -> None:
    """The kept judge replies of a sample (``r``: text, re-asks, why missing) and, per
    criterion, the position of its reply and its jury members' (judge, verdict, position)."""
    row["r"] = [[r.text, r.reasks, r.missing] for r in result.raw_replies or ()]
    for values, record in zip(row["v"], result.verdicts, strict=True):
        values.append(record.raw_reply)
        values.append(
            [[v.judge, v.verdict, v.raw_reply] for v in record.jury] if record.jury else None
        )


def _asset(name: str) -> str:
    return resources.files("rubricate.report").joinpath(name).read_text(encoding="utf-8")


def build_report(
    runs: Sequence[RunData],
    *,
    prices: dict[str, dict[str, float]] | None = None,
    seed: int = 0,
    samples: Mapping[str, Sample] | None = None,
) -> str:
    """The HTML page for ``runs[0]``, with a comparison of each further run against it.

    ``samples`` (by id): the graded data, for conversations and responses the results lack.
    """
    if not runs:
        raise ValueError("a report needs at least one run")
    run = runs[0]
    sections = [
        header_section(run, prices),
        scores_section(run, seed),
        criteria_section(run),
        calibration_section(run),
        "<h2 id='samples'>Samples</h2><div id='samples-app'><p class='note'>The sample list "
        "needs JavaScript.</p></div>",
    ]
    sections += [comparison_section(run, other, seed, i) for i, other in enumerate(runs[1:], 1)]
    if run.labels is not None:
        by_id = {r.sample_id: r for r in run.results}
        sections.append(labels_section(check_labels(by_id, run.labels, seed=seed)))
    sections += [probes_section(run), pairwise_section(run)]
    nav = " · ".join(
        f'<a href="#{anchor}">{label}</a>'
        for anchor, label in (
            ("scores", "scores"),
            ("criteria", "criteria"),
            ("calibration", "calibration"),
            ("samples", "samples"),
            *((f"compare-{i}", f"vs {r.name}") for i, r in enumerate(runs[1:], 1)),
            ("meta-eval", "against labels"),
            ("probes", "probes"),
            ("pairwise", "pairwise"),
        )
        if f"id='{anchor}'" in "".join(sections)
    )
    packed = base64.b64encode(
        gzip.compress(
            json.dumps(_sample_data(run, samples or {}), separators=(",", ":")).encode(), mtime=0
        )
    ).decode("ascii")
    title = f"rubricate report: {run.name}"
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        # The page may load nothing but itself: no fonts, scripts, images or connections.
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">"
        f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{escape(title)}</title>"
        f"<style>{_asset('report.css')}</style></head><body>"
        f"<header><h1>{escape(title)}</h1><nav>{nav}</nav></header><main>"
        + "".join(sections)
        + f"</main><footer>rubricate {escape(__version__)} · built from {escape(str(run.path))}"
        "</footer>"
        f'<script id="sample-data" type="application/octet-stream">{packed}</script>'
        f"<script>{_asset('report.js')}</script></body></html>"
    )


def write_report(
    runs: Sequence[str | Path],
    out: str | Path,
    *,
    prices: str | Path | None = None,
    labels: str | Path | None = None,
    seed: int = 0,
    samples: Iterable[object] | None = None,
) -> Path:
    """Read run directories, write the report to ``out`` and return its path.

    ``labels``: a criterion label file for the first run (as ``rubricate meta-eval criteria``).
    ``samples``: the data the first run graded (items that are not a ``Sample``, such as a
    reader's located errors, are passed over), to show conversations and responses.
    """
    loaded = [load_run(r, labels if i == 0 else None) for i, r in enumerate(runs)]
    by_id = {s.id: s for s in samples or () if isinstance(s, Sample)}
    page = build_report(
        loaded, prices=read_prices(prices) if prices else None, seed=seed, samples=by_id
    )
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(page, encoding="utf-8")
    partial.replace(path)
    return path
