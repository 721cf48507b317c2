"""Console lines for the run figures a summary holds beside its table: native score, themes,
clusters, length-adjusted score, kept judge replies. Only printing: the scoring core computes them
(``rubricate.runs.RunAccumulator``)."""

from __future__ import annotations

from rubricate.results import GroupSummary, RunSummary

__all__ = ["describe"]

# More clusters than this are counted, not listed: HealthBench Consensus has 34.
_LISTED_CLUSTERS = 12


def describe(summary: RunSummary) -> list[str]:
    """One line per figure, for the console after the summary table."""
    lines: list[str] = []
    native = summary.native
    if native is not None:
        parts = ", ".join(f"{k} {_fmt(v)}" for k, v in native.parts.items())
        lines.append(
            f"native score ({native.scheme}): {_fmt(native.score)}"
            + (f"  ({parts})" if parts else "")
        )
    for tag, group in summary.themes.items():
        lines.append(_group_line(tag, group))
    if len(summary.clusters) > _LISTED_CLUSTERS:
        lines.append(f"{len(summary.clusters)} cluster scores: see summary.json 'clusters'")
    else:
        lines.extend(_group_line(tag, group) for tag, group in summary.clusters.items())
    length = summary.length_adjusted
    if length is not None:
        lines.append(
            f"length-adjusted score (penalty {length.penalty:g}): {_fmt(length.score)}"
            + _interval(length.ci95)
        )
    replies = summary.replies
    if replies is not None:
        missing = ", ".join(f"{n} {reason}" for reason, n in sorted(replies.missing.items()))
        lines.append(
            f"judge replies kept: {replies.kept:,}" + (f"  (missing: {missing})" if missing else "")
        )
    return lines


def _group_line(tag: str, group: GroupSummary) -> str:
    return f"{tag}: {_fmt(group.score)}{_interval(group.ci95)}  n={group.n_samples}"


def _interval(ci95: tuple[float, float] | None) -> str:
    return f"  [{ci95[0]:.3f}, {ci95[1]:.3f}]" if ci95 is not None else ""


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"
