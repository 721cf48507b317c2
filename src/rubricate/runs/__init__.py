"""Run directories: results.jsonl and summary.json written, resumed and re-scored."""

from rubricate.runs._writer import (
    OnInvalid,
    RunAccumulator,
    grade_to_dir,
    read_results,
    rescore_results,
    result_rubric,
    run_id_for,
    write_json,
)

__all__ = [
    "OnInvalid",
    "RunAccumulator",
    "grade_to_dir",
    "read_results",
    "rescore_results",
    "result_rubric",
    "run_id_for",
    "write_json",
]
