"""Juries: several judges on the same criteria, their rules and their agreement (pure).

The members' calls go through the engine like a single judge's (``engine.Grader`` with a
``jury``); this package only decides and measures.
"""

from rubricate.jury._agreement import (
    AgreementTally,
    fleiss_kappa,
    krippendorff_alpha,
    share_agreeing,
)
from rubricate.jury._rules import RULES, JuryRule, Vote, combine_verdicts, decide

__all__ = [
    "RULES",
    "AgreementTally",
    "JuryRule",
    "Vote",
    "combine_verdicts",
    "decide",
    "fleiss_kappa",
    "krippendorff_alpha",
    "share_agreeing",
]
