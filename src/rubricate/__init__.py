"""rubricate: rubric-based evaluation and rewards for LLM outputs.

Rubrics in, verdicts out, scores and rewards on top::

    import rubricate
    from rubricate.backends import ScriptedJudge

    samples = rubricate.read_samples("data.jsonl")
    result = rubricate.grade(samples, judge, store="cache.sqlite")
    print(result.summary.score)
"""

__version__ = "0.1.0"

from rubricate._api import GradeResult, grade, grade_async
from rubricate._grade import GradeOptions, Grader
from rubricate._results import RunSummary, SampleResult, VerdictRecord
from rubricate._run import grade_to_dir, rescore_results
from rubricate.formats import read_samples
from rubricate.judge import Message, Sample, Verdict
from rubricate.rubric import Criterion, Rubric, Scale
from rubricate.scoring import SampleScore, score_sample, summarize
from rubricate.store import Store

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
    "Store",
    "Verdict",
    "VerdictRecord",
    "__version__",
    "grade",
    "grade_async",
    "grade_to_dir",
    "read_samples",
    "rescore_results",
    "score_sample",
    "summarize",
]
