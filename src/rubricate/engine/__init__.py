"""The engine every stage runs on: cached judge calls, grading, ordered streams, the sync bridge."""

from rubricate.engine._grader import Counters, GradeOptions, Grader, SkippedSample, TokenCounters
from rubricate.engine._ordered import map_in_order
from rubricate.engine._sync import LoopThread, run_sync

__all__ = [
    "Counters",
    "GradeOptions",
    "Grader",
    "LoopThread",
    "SkippedSample",
    "TokenCounters",
    "map_in_order",
    "run_sync",
]
