"""The engine every stage runs on: cached model calls, grading, policy sampling, ordered
streams, the sync bridge."""

from rubricate.engine._calls import Cache, CallEngine, Claim, JudgmentCache, Reask, TextCache
from rubricate.engine._evidence import evidence_support
from rubricate.engine._grader import Grader, Respond
from rubricate.engine._jury import Jury, JuryMember
from rubricate.engine._options import Constrain, EvidenceMode, GradeOptions, SkippedSample
from rubricate.engine._ordered import map_in_order
from rubricate.engine._policy import PolicySampler
from rubricate.engine._sync import LoopThread, run_sync

__all__ = [
    "Cache",
    "CallEngine",
    "Claim",
    "Constrain",
    "EvidenceMode",
    "GradeOptions",
    "Grader",
    "JudgmentCache",
    "Jury",
    "JuryMember",
    "LoopThread",
    "PolicySampler",
    "Reask",
    "Respond",
    "SkippedSample",
    "TextCache",
    "evidence_support",
    "map_in_order",
    "run_sync",
]
