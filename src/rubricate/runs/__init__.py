"""Run directories: results written through one run writer, resumed and re-scored."""

from rubricate.runs._check import (
    InputCheck,
    RunFailure,
    check_input,
    results_digest,
    run_failure,
    stale_summary,
    status_fields,
)
from rubricate.runs._lock import RunLock, check_run_dir
from rubricate.runs._rescore import read_results, rescore_results, result_rubric
from rubricate.runs._writer import (
    OnInvalid,
    RunAccumulator,
    RunWriter,
    SampleSource,
    grade_to_dir,
    jury_agreement,
    run_id_for,
    write_json,
)

__all__ = [
    "InputCheck",
    "OnInvalid",
    "RunAccumulator",
    "RunFailure",
    "RunLock",
    "RunWriter",
    "SampleSource",
    "check_input",
    "check_run_dir",
    "grade_to_dir",
    "jury_agreement",
    "read_results",
    "rescore_results",
    "result_rubric",
    "results_digest",
    "run_failure",
    "run_id_for",
    "stale_summary",
    "status_fields",
    "write_json",
]
