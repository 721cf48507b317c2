"""Rubrics as rewards: the same Grader and scoring core as grading, shaped for RL.

- ``rubricate.rewards.verl``: ``compute_score`` / ``compute_score_async`` for verl >= 0.7.1's
  reward loop (and the legacy ``compute_score_batch``).
- ``rubricate.rewards.trl``: ``rubric_reward``, ``rubric_reward_async`` (an ``async def``) and
  ``rubric_axis_rewards`` (one function per axis) for ``GRPOTrainer``.
- ``rubricate serve``: an HTTP reward server (OpenRLHF's ``/get_reward``, NeMo Gym's
  ``/verify`` and ``/aggregate_metrics``, native endpoints).
- ``rubricate.rewards.scaffold``: RuscaRL rubric scaffolding for the policy's prompts.

Framework modules are imported on demand; none of them imports the framework itself.
"""

from rubricate.rewards._engine import (
    BackgroundEngine,
    RewardEngine,
    RewardOutcome,
    close_engines,
    shared_engine,
)
from rubricate.rewards._inputs import group_key, messages_of, parse_rubric
from rubricate.rewards._settings import reward_settings, split_reward_settings
from rubricate.rewards._shaping import (
    NORMALIZATIONS,
    Normalize,
    Shaping,
    normalize_groups,
    shape_scores,
    with_fallback,
)
from rubricate.rewards.scaffold import (
    Scaffold,
    group_fraction,
    reveal_fraction,
    scaffold,
    scaffold_messages,
    step_fraction,
)

__all__ = [
    "NORMALIZATIONS",
    "BackgroundEngine",
    "Normalize",
    "RewardEngine",
    "RewardOutcome",
    "Scaffold",
    "Shaping",
    "close_engines",
    "group_fraction",
    "group_key",
    "messages_of",
    "normalize_groups",
    "parse_rubric",
    "reveal_fraction",
    "reward_settings",
    "scaffold",
    "scaffold_messages",
    "shape_scores",
    "shared_engine",
    "split_reward_settings",
    "step_fraction",
    "with_fallback",
]
