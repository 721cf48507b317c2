"""verl reward functions backed by rubricate's judge and scoring core.

verl >= 0.7.1 computes rewards only in its reward loop (``reward.num_workers`` worker
processes, 8 by default), one sample per call. Run with these Hydra overrides (the README has the
full command)::

    reward.reward_manager.name=naive
    reward.custom_reward_function.path=$(python -c "import rubricate.rewards.verl as m; print(m.__file__)")
    reward.custom_reward_function.name=compute_score_async
    +reward.custom_reward_function.reward_kwargs.judge_url=http://127.0.0.1:8000/v1
    +reward.custom_reward_function.reward_kwargs.judge_model=grader
    +reward.custom_reward_function.reward_kwargs.cache=/data/rubricate.sqlite

Every key may instead come from ``RUBRICATE_*`` environment variables. When verl hosts the judge
itself (``reward.reward_model.enable=true``) it passes ``reward_router_address``; that router is
the judge unless ``judge_url`` is given. Options only this module reads:

- ``total_concurrency`` (``RUBRICATE_TOTAL_CONCURRENCY``): judge calls in flight across all
  ``num_workers`` (``RUBRICATE_REWARD_NUM_WORKERS``, default 8, set it to ``reward.num_workers``)
  processes; each process gets ``total_concurrency // num_workers``.
- ``axis_fill`` (``RUBRICATE_REWARD_AXIS_FILL``, default 0.0): ``axis/NAME`` of a rubric without
  that axis, flagged by ``has_axis/NAME`` = 0.0.

Each call returns ``{"score": reward, ...extras}``, always the same keys of finite floats (verl
stacks them into arrays and ``gdpo`` reads them as ``algorithm.gdpo_reward_keys``):
``rubric_score`` (the unshaped score), ``ungradable`` (1.0 when all criteria errored and
``score`` is the configured ``fallback``), ``n_criteria``, ``n_errors``, ``gate_failed`` and, for
each axis named by ``axes``, ``axis/NAME`` and ``has_axis/NAME``.

The rubric is read from ``extra_info.reward_model.rubrics`` (RuscaRL rows), ``extra_info.rubrics``
or ``ground_truth`` (a JSON list of criteria); the conversation from ``extra_info.prompt``.
``compute_score_batch`` serves the legacy ``batch`` manager of verl < 0.7.1.
"""

from rubricate.rewards._verl import (
    BASE_KEYS,
    DEFAULT_NUM_WORKERS,
    VerlOptions,
    compute_score,
    compute_score_async,
    compute_score_batch,
    compute_score_batch_async,
    extra_keys,
    split_kwargs,
)

__all__ = [
    "BASE_KEYS",
    "DEFAULT_NUM_WORKERS",
    "VerlOptions",
    "compute_score",
    "compute_score_async",
    "compute_score_batch",
    "compute_score_batch_async",
    "extra_keys",
    "split_kwargs",
]
