"""rubricate: rubric-based evaluation and rewards for LLM outputs.

Rubrics in, verdicts out, scores and rewards on top::

    import rubricate

    judge = rubricate.create_judge("http://127.0.0.1:8000/v1", model="NAME")  # or "local"
    samples = rubricate.read_samples("data.jsonl")
    result = rubricate.grade(samples, judge, store="cache.sqlite")
    print(result.summary.score)
"""

from rubricate.api import GradeResult, create_judge, grade, grade_async
from rubricate.engine import GradeOptions, Grader
from rubricate.formats import read_samples
from rubricate.results import RunSummary, SampleResult, VerdictRecord
from rubricate.rubric import Criterion, Rubric, Scale
from rubricate.runs import grade_to_dir, rescore_results
from rubricate.scoring import SampleScore, score_sample, summarize
from rubricate.session import Session
from rubricate.settings import Settings
from rubricate.store import Store
from rubricate.types import Message, Sample, Verdict
from rubricate.version import __version__

__all__ = [
    "Criterion",
    "GradeOptions",
    "GradeResult",
    "Grader",
    "Message",
    "Rubric",
    "RunSummary",
    "Sample",
    "SampleResult",
    "SampleScore",
    "Scale",
    "Session",
    "Settings",
    "Store",
    "Verdict",
    "VerdictRecord",
    "__version__",
    "create_judge",
    "grade",
    "grade_async",
    "grade_to_dir",
    "read_samples",
    "rescore_results",
    "score_sample",
    "summarize",
]
