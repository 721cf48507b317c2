"""The report's static sections: header, score tables and plots, criteria, comparison, side pages.

Each returns an HTML fragment with every value escaped; the figures come from ``_analysis``,
``_compare`` and ``rubricate.meta``, the plots from ``_svg``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

from rubricate.report import _svg
from rubricate.report._analysis import (
    GroupRow,
    calibration_bins,
    criterion_rows,
    evidence_counts,
    group_rows,
    sample_tag_scores,
)
from rubricate.report._compare import Comparison, compare_runs
from rubricate.report._load import RunData

__all__ = [
    "calibration_section",
    "comparison_section",
    "criteria_section",
    "header_section",
    "pairwise_section",
    "probes_section",
    "scores_section",
]

CRITERIA_SHOWN = 300  # rows of the per-criterion table; the rest are counted, not listed


def _num(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _ci(ci: Sequence[float] | None) -> str:
    return "–" if ci is None else f"[{ci[0]:.3f}, {ci[1]:.3f}]"


def _table(
    headers: Sequence[str], rows: Iterable[Sequence[str]], cls: str = "", numeric_from: int = 1
) -> str:
    head = "".join(
        f'<th class="{"num" if i >= numeric_from else ""}">{escape(h)}</th>'
        for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="{"num" if i >= numeric_from else ""}">{cell}</td>'
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _group_table(rows: Sequence[GroupRow], label: str, cls: str) -> str:
    return _table(
        [label, "n", "mean", "95% interval"],
        ([escape(r.name), str(r.n), _num(r.mean), _ci(r.ci95)] for r in rows),
        cls=f"sortable {cls}",
    )


def _judge_model(fingerprint: str) -> str:
    """The model part of ``backend:model:hash`` fingerprints (llama.cpp: the weights' hash)."""
    parts = fingerprint.split(":")
    return parts[1] if len(parts) >= 3 else fingerprint or "–"


def _cost(tokens: dict[str, int], model: str, prices: dict[str, dict[str, float]]) -> str | None:
    rates = prices.get(model) or prices.get("*")
    if rates is None:
        return None
    prompt = rates.get("prompt", 0.0)
    cached = tokens.get("cached_prompt", 0)
    usd = (
        (tokens.get("prompt", 0) - cached) * prompt
        + cached * rates.get("cached_prompt", prompt)
        + tokens.get("completion", 0) * rates.get("completion", 0.0)
    ) / 1e6
    return f"${usd:,.4f}"


def _replies_fact(run: RunData) -> str:
    """Whether the run kept the judge's replies, and how many are missing and why."""
    tally = run.summary.get("replies")
    if not isinstance(tally, dict):
        if not any(r.raw_replies is not None for r in run.results):
            return "not kept (grade with --keep-replies to see them per criterion)"
        tally = {}
    kept = tally.get("kept")
    missing = tally.get("missing") or {}
    text = "kept" + (f": {kept:,} verdicts" if isinstance(kept, int) else "")
    if isinstance(missing, dict) and missing:
        text += "; missing: " + ", ".join(f"{n} {reason}" for reason, n in sorted(missing.items()))
    return text


_EVIDENCE_KEYS = ("evidence_verified", "evidence_unverified", "evidence_missing")


def _evidence_fact(run: RunData) -> str | None:
    """The support of the run's met verdicts, from summary.json (else counted from the
    results); ``None`` when the run did not ask for evidence."""
    recount = evidence_counts(run.results)
    if recount is None:
        return None
    counted = (recount.verified, recount.unverified, recount.missing)
    summary = run.summary.get("counts") or {}
    stated = tuple(summary.get(key) for key in _EVIDENCE_KEYS)
    known = all(isinstance(n, int) and not isinstance(n, bool) for n in stated)
    shown = stated if known else counted
    text = "verified {:,} / unverified {:,} / missing {:,}".format(*shown)
    if not known:
        text += " (counted from the results: summary.json has no evidence counts)"
    elif stated != counted:
        # A summary.json from another pass over the lines (a resumed run, `rubricate score`)
        # may not match them; both are shown so neither is taken on trust.
        text += " (summary.json; the results lines count {:,} / {:,} / {:,})".format(*counted)
    if recount.downgraded:
        text += f"; {recount.downgraded:,} met downgraded to not_met (--evidence strict)"
    return text


def header_section(run: RunData, prices: dict[str, dict[str, float]] | None) -> str:
    summary = run.summary
    judges = sorted({r.judge for r in run.results if r.judge} | {summary.get("judge") or ""} - {""})
    templates = sorted(
        {r.template for r in run.results if r.template} | {summary.get("template") or ""} - {""}
    )
    fingerprints = sorted({r.rubric_fingerprint for r in run.results})
    counts: dict[str, int] = summary.get("counts") or {}
    tokens: dict[str, int] = summary.get("tokens") or {}
    facts = [
        ("judge fingerprint", ", ".join(judges) or "–"),
        ("judge model", ", ".join(_judge_model(j) for j in judges) or "–"),
        (
            "sampling parameters",
            "hashed into the judge fingerprint (the run directory does not list them)",
        ),
        ("prompt template", ", ".join(templates) or "–"),
        (
            "scoring method",
            summary.get("method") or (run.results[0].method if run.results else "–"),
        ),
        (
            "rubric fingerprints",
            f"{len(fingerprints)} distinct"
            + (f": {', '.join(f[:12] for f in fingerprints[:3])}" if fingerprints else "")
            + ("…" if len(fingerprints) > 3 else ""),
        ),
        ("samples (scored / in file)", f"{summary.get('n_scored', '–')} / {len(run.results)}"),
    ]
    for key in (
        "criteria",
        "judge_calls",
        "cache_hits",
        "errors",
        "cannot_assess",
        "skipped_lines",
        "failed_calls",
        "gate_failed",
    ):
        if key in counts:
            facts.append((key.replace("_", " "), f"{counts[key]:,}"))
    if tokens:
        facts.append(
            (
                "judge tokens: prompt (cached) / completion",
                f"{tokens.get('prompt', 0):,} ({tokens.get('cached_prompt', 0):,}) / "
                f"{tokens.get('completion', 0):,}",
            )
        )
    if prices is not None and tokens:
        costs = [_cost(tokens, _judge_model(j), prices) for j in judges or [""]]
        facts.append(("judge cost (--prices)", ", ".join(c or "no price" for c in costs)))
    facts.append(("judge replies", _replies_fact(run)))
    evidence = _evidence_fact(run)
    if evidence is not None:
        facts.append(("evidence of met verdicts", evidence))
    if summary.get("elapsed_s") is not None:
        facts.append(("elapsed", f"{summary['elapsed_s']:.1f} s"))
    facts.append(("written by", f"rubricate {summary.get('rubricate_version') or '?'}"))
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in facts)
    return f'<table class="facts" id="header-facts">{rows}</table>'


def scores_section(run: RunData, seed: int) -> str:
    results = run.results
    scores = [r.score for r in results]
    overall = group_rows({"overall": scores}, seed)
    extra = []
    for key, label in (("length_adjusted", "length-adjusted"), ("native", "native scale")):
        figure = run.summary.get(key)
        if isinstance(figure, dict) and figure.get("score") is not None:
            extra.append(
                [
                    label,
                    str(figure.get("n_scored", "–")),
                    _num(figure["score"]),
                    _ci(figure.get("ci95")),
                ]
            )
    overall_rows = [[escape(r.name), str(r.n), _num(r.mean), _ci(r.ci95)] for r in overall] + extra
    axes: dict[str, list[float | None]] = {}
    tags: dict[str, list[float | None]] = {}
    for result in results:
        for name, value in result.axes.items():
            axes.setdefault(name, []).append(value)
        for tag, value in sample_tag_scores(result).items():
            tags.setdefault(tag, []).append(value)
    axis_rows = group_rows(dict(sorted(axes.items())), seed)
    theme_rows = group_rows({t: v for t, v in sorted(tags.items()) if t.startswith("theme:")}, seed)
    cluster_rows = group_rows(
        {t: v for t, v in sorted(tags.items()) if t.startswith(("cluster:", "level:"))}, seed
    )
    parts = [
        "<h2 id='scores'>Scores</h2>",
        _table(["", "n", "mean", "95% interval"], overall_rows, cls="overall"),
        '<p class="note">Means clipped to [0, 1]; intervals are the 2.5th–97.5th percentiles '
        "of 1,000 seeded bootstrap resamples of the samples (the scoring core's, as in "
        "summary.json).</p>",
        '<div class="plots">',
        _svg.histogram([s for s in scores if s is not None]),
    ]
    for rows, title in ((axis_rows, "Per axis"), (theme_rows, "Per theme")):
        if rows:
            parts.append(_svg.bars([(r.name, r.mean, r.ci95, r.n) for r in rows], title))
    if cluster_rows:
        parts.append(
            _svg.bars([(r.name, r.mean, r.ci95, r.n) for r in cluster_rows[:40]], "Per cluster")
        )
    parts.append("</div>")
    for rows, label, cls in (
        (axis_rows, "axis", "axes"),
        (theme_rows, "theme", "themes"),
        (cluster_rows, "cluster / level", "clusters"),
    ):
        if rows:
            parts.append(f"<h3>Per {label}</h3>" + _group_table(rows, label, cls))
    return "".join(parts)


def criteria_section(run: RunData) -> str:
    rows = criterion_rows(run.results)
    shown = rows[:CRITERIA_SHOWN]
    table = _table(
        [
            "criterion",
            "n",
            "points",
            "met rate",
            "variance",
            "corr. with score",
            "errors",
            "cannot assess",
        ],
        (
            [
                ('<span class="pitfall">pitfall</span> ' if r.pitfall else "") + escape(r.text),
                str(r.n),
                escape(", ".join(f"{p:g}" for p in r.points)),
                _num(r.met_rate),
                _num(r.variance),
                _num(r.corr),
                str(r.errors),
                str(r.cannot_assess),
            ]
            for r in shown
        ),
        cls="sortable criteria",
    )
    note = (
        f"<p class='note'>{len(rows):,} distinct criterion texts; the {len(shown):,} most frequent "
        "are listed. Met rate: mean value of gradable verdicts (partial 0.5, ordinal level/top); "
        "a criterion whose value never varies cannot separate responses (correlation –).</p>"
    )
    return "<h2 id='criteria'>Criteria</h2>" + note + table


def calibration_section(run: RunData) -> str:
    bins = calibration_bins(run.results)
    if not bins:
        return ""
    return (
        "<h2 id='calibration'>Reliability of P(met)</h2><p class='note'>P(met) binned against "
        "the verdict given with it (the run has no human labels; `rubricate meta-eval` checks "
        "against labels).</p>" + _svg.reliability(bins)
    )


def comparison_section(first: RunData, second: RunData, seed: int, index: int) -> str:
    comparison: Comparison = compare_runs(
        {r.sample_id: r for r in first.results},
        {r.sample_id: r for r in second.results},
        seed=seed,
    )
    names = f"{escape(second.name)} − {escape(first.name)}"
    overall = comparison.overall
    group_table = _table(
        ["group", "n", "mean difference", "95% interval"],
        (
            [escape(name), str(n), _num(est.value), _ci(est.ci95)]
            for name, (n, est) in comparison.groups.items()
        ),
        cls="sortable groups-diff",
    )
    flips = _table(
        ["criterion", "points", "flipped", "compared", "to met"],
        (
            [escape(f.text), f"{f.points:g}", str(f.flipped), str(f.compared), str(f.to_met)]
            for f in comparison.flips
        ),
        cls="sortable flips",
    )
    return (
        f"<h2 id='compare-{index}'>Comparison: {names}</h2>"
        f"<p>{comparison.n_paired:,} samples scored in both runs "
        f"({comparison.only_first:,} only in {escape(first.name)}, {comparison.only_second:,} only "
        f"in {escape(second.name)}). Mean paired difference <b>{_num(overall.value)}</b> "
        f"{_ci(overall.ci95)}; win / tie / loss for {escape(second.name)}: "
        f'<span id="wtl">{comparison.wins} / {comparison.ties} / {comparison.losses}</span>.</p>'
        + _table(
            ["run", "judge", "template", "samples", "score", "95% interval"],
            (
                [
                    escape(r.name),
                    escape(str(r.summary.get("judge", "–"))),
                    escape(str(r.summary.get("template", "–"))),
                    str(len(r.results)),
                    _num(r.summary.get("score")),
                    _ci(r.summary.get("ci95")),
                ]
                for r in (first, second)
            ),
            numeric_from=3,
        )
        + '<div class="plots">'
        + _svg.scatter(comparison.pairs, first.name, second.name)
        + _svg.bars(
            [
                (name, est.value, est.ci95, n)
                for name, (n, est) in list(comparison.groups.items())[:30]
            ],
            "Paired difference per group",
            domain=(-1.0, 1.0),
        )
        + "</div><h3>Per axis, theme and cluster</h3>"
        + group_table
        + "<h3>Criteria whose verdicts flipped most</h3>"
        + flips
    )


def probes_section(run: RunData) -> str:
    if not run.probes:
        return ""
    rows = []
    bars = []
    for name, outcome in run.probes.items():
        if not isinstance(outcome, dict):
            continue
        gain, ci = outcome.get("gain"), outcome.get("ci95")
        rows.append(
            [
                escape(name),
                str(outcome.get("n", "–")),
                _num(gain),
                _ci(ci),
                _num(outcome.get("flipped")),
                str(outcome.get("errors", "–")),
            ]
        )
        bars.append((name, gain, (ci[0], ci[1]) if ci else None, outcome.get("n", 0)))
    return (
        "<h2 id='probes'>Probes</h2><p class='note'>Gain: mean score change the probe caused "
        "(probe − original); a judge that resists it stays near 0. For position: the "
        "preference for the response shown first, in [−1, 1] (always the first seat: 1).</p>"
        + _table(
            ["probe", "n", "gain", "95% interval", "verdicts flipped", "errors"],
            rows,
            "sortable probes",
        )
        + _svg.bars(bars, "Gain per probe", domain=(-1.0, 1.0))
    )


def _first_position_rate(run: RunData) -> tuple[float | None, int]:
    """Share of decisive trials (A>B or B>A as shown) that chose the response shown first.

    A judge without position bias sits near 0.5 when each pair is asked in both orders.
    """
    shown = [
        trial.decision
        for pair in run.pairs or ()
        for trial in pair.judgments or ()
        if trial is not None and trial.decision in ("A>B", "B>A")
    ]
    if not shown:
        return None, 0
    return sum(1 for d in shown if d == "A>B") / len(shown), len(shown)


def pairwise_section(run: RunData) -> str:
    report = run.pairwise
    if report is None:
        return ""
    first, trials = _first_position_rate(run)
    groups = [("overall", report.overall), *sorted(report.by_source.items())]
    return (
        "<h2 id='pairwise'>Pairwise</h2>"
        + _table(
            ["source", "pairs", "accuracy", "consistency (two orders)", "ties"],
            (
                [escape(name), str(g.n_pairs), _num(g.accuracy), _num(g.consistency), str(g.ties)]
                for name, g in groups
            ),
            cls="sortable pairwise",
        )
        + f"<p>First-position rate: <b id='first-position'>{_num(first)}</b> of {trials} "
        "decisive trials chose the response shown first (near 0.5 without position bias).</p>"
        + (
            f"<p class='note'>{len(report.unlabelled)} pairs without a label, not scored.</p>"
            if report.unlabelled
            else ""
        )
    )
