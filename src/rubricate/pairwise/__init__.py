"""Pairwise judging: two responses compared in both orders, holistically or criterion by criterion.

Decisions are read from JSON (``{"winner": ...}``) or Arena-Hard tags (``[[A>B]]``), mapped
back to the original positions, and combined into a net vote; accuracy follows JudgeBench's
rule (a tie or an inconsistent pair is not correct). A ``Jury`` in place of the judge
compares with every member and decides each trial by its rule (see ``jury_decision``).
"""

from rubricate.pairwise._compare import (
    Answer,
    CompareOptions,
    Comparer,
    PairReplyCache,
    pair_text_hash,
)
from rubricate.pairwise._figures import FigureTally, MemberTally, tally_lines
from rubricate.pairwise._inputs import (
    PAIR_FIELDS,
    pair_from_judgebench_pair,
    pair_from_record,
    read_pairs,
)
from rubricate.pairwise._jury import (
    PAIRWISE_RULES,
    check_pairwise_rule,
    jury_decision,
    jury_trial,
)
from rubricate.pairwise._parse import (
    ParsedDecision,
    ParsedRequirement,
    parse_decision,
    parse_requirement,
)
from rubricate.pairwise._prompt import (
    REQUIREMENT_PREFIX,
    WINNER_PREFIX,
    SharedText,
    build_criterion_request,
    build_holistic_request,
    load_pairwise_template,
    render_pair,
    retry_request,
)
from rubricate.pairwise._records import (
    CompareCounts,
    CompareSummary,
    CriterionLine,
    CriterionTrialLine,
    JuryMemberLine,
    JuryMemberSummary,
    JurySummary,
    PairLine,
    RubricGenerationFigures,
    RubricSource,
    SourceFigures,
    TrialLine,
)
from rubricate.pairwise._run import compare_pairs, compare_to_dir, jury_summary
from rubricate.pairwise._tournament import (
    Standing,
    TournamentResult,
    calls_per_group,
    plan_matches,
    tournament,
)
from rubricate.pairwise._types import (
    CompareMode,
    CriterionTrial,
    Decision,
    Order,
    Orders,
    Pair,
    Position,
    Trial,
    Winner,
)
from rubricate.pairwise._votes import (
    chose_first,
    consistent,
    criteria_decision,
    flip,
    judgebench_correct,
    net_vote,
    preference,
    to_original,
    winner_to_original,
)

__all__ = [
    "PAIRWISE_RULES",
    "PAIR_FIELDS",
    "REQUIREMENT_PREFIX",
    "WINNER_PREFIX",
    "Answer",
    "CompareCounts",
    "CompareMode",
    "CompareOptions",
    "CompareSummary",
    "Comparer",
    "CriterionLine",
    "CriterionTrial",
    "CriterionTrialLine",
    "Decision",
    "FigureTally",
    "JuryMemberLine",
    "JuryMemberSummary",
    "JurySummary",
    "MemberTally",
    "Order",
    "Orders",
    "Pair",
    "PairLine",
    "PairReplyCache",
    "ParsedDecision",
    "ParsedRequirement",
    "Position",
    "RubricGenerationFigures",
    "RubricSource",
    "SharedText",
    "SourceFigures",
    "Standing",
    "TournamentResult",
    "Trial",
    "TrialLine",
    "Winner",
    "build_criterion_request",
    "build_holistic_request",
    "calls_per_group",
    "check_pairwise_rule",
    "chose_first",
    "compare_pairs",
    "compare_to_dir",
    "consistent",
    "criteria_decision",
    "flip",
    "judgebench_correct",
    "jury_decision",
    "jury_summary",
    "jury_trial",
    "load_pairwise_template",
    "net_vote",
    "pair_from_judgebench_pair",
    "pair_from_record",
    "pair_text_hash",
    "parse_decision",
    "parse_requirement",
    "plan_matches",
    "preference",
    "read_pairs",
    "render_pair",
    "retry_request",
    "tally_lines",
    "to_original",
    "tournament",
    "winner_to_original",
]
