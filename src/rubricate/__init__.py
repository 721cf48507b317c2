"""rubricate: rubric-based evaluation and rewards for LLM outputs.

Rubrics in, verdicts out, scores and rewards on top::

    import rubricate
    from rubricate.backends import ScriptedJudge

    samples = rubricate.read_samples("data.jsonl")
    result = rubricate.grade(samples, judge, store="cache.sqlite")
    print(result.summary.score)
"""

__version__ = "0.1.0"

from rubricate._api import GradeResult, grade, grade_async  # noqa: E402
from rubricate._grade import GradeOptions, Grader  # noqa: E402
from rubricate._results import RunSummary, SampleResult, VerdictRecord  # noqa: E402
from rubricate._run import grade_to_dir, rescore_results  # noqa: E402
from rubricate.formats import read_samples  # noqa: E402
from rubricate.judge import Message, Sample, Verdict  # noqa: E402
from rubricate.rubric import Criterion, Rubric, Scale  # noqa: E402
from rubricate.scoring import SampleScore, score_sample, summarize  # noqa: E402
from rubricate.store import Store  # noqa: E402

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
