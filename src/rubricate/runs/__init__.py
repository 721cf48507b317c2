"""Run directories: results written through one run writer, resumed and re-scored."""

from rubricate.runs._rescore import read_results, rescore_results, result_rubric
from rubricate.runs._writer import (
    OnInvalid,
    RunAccumulator,
    RunWriter,
    grade_to_dir,
    jury_agreement,
    run_id_for,
    write_json,
)

__all__ = [
    "OnInvalid",
    "RunAccumulator",
    "RunWriter",
    "grade_to_dir",
    "jury_agreement",
    "read_results",
    "rescore_results",
    "result_rubric",
    "run_id_for",
    "write_json",
]
