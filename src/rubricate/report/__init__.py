"""``rubricate report``: one self-contained HTML page per run directory (no judge call)."""

from rubricate.report._analysis import (
    CriterionRow,
    EvidenceCounts,
    GroupRow,
    calibration_bins,
    criterion_rows,
    evidence_counts,
    group_rows,
    sample_tag_scores,
)
from rubricate.report._compare import Comparison, FlipRow, compare_runs
from rubricate.report._labels import LabelCheck, check_labels
from rubricate.report._load import RunData, load_run, read_prices
from rubricate.report._page import build_report, write_report

__all__ = [
    "Comparison",
    "CriterionRow",
    "EvidenceCounts",
    "FlipRow",
    "GroupRow",
    "LabelCheck",
    "RunData",
    "build_report",
    "calibration_bins",
    "check_labels",
    "compare_runs",
    "criterion_rows",
    "evidence_counts",
    "group_rows",
    "load_run",
    "read_prices",
    "sample_tag_scores",
    "write_report",
]
