"""Tournament rewards for GRPO: a prompt's completions rewarded by their win rate against each other.

::

    from rubricate.rewards.tournament import tournament_reward

    reward = tournament_reward(judge_url="http://127.0.0.1:8000/v1", judge_model="judge",
                               opponents=4, seed=0)
    trainer = GRPOTrainer(model=..., reward_funcs=[reward], train_dataset=dataset, ...)

TRL hands a reward function a whole batch; completions with the same prompt form a group,
and each group plays a tournament (``rubricate.pairwise.tournament``): matches compared in
both orders, round robin or ``opponents`` matches per completion on a seeded schedule.
A group of G costs ``calls_per_group(G, opponents=...)`` judge calls with nothing cached
(G (G - 1) for a round robin in both orders). A rubric column, when present, makes the
matches criterion-wise. The reward is ``(wins + ties / 2) / decisions`` in [0, 1]; a
completion none of whose matches came back is ``None`` (TRL leaves it out).

A server endpoint that receives a group calls ``TournamentReward.group_rewards`` (async).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from rubricate.engine import LoopThread
from rubricate.errors import ConfigError, InputError
from rubricate.pairwise import PAIRWISE_RULES, CompareOptions, Comparer, Orders, tournament
from rubricate.rewards._inputs import completion_text, messages_of, parse_rubric
from rubricate.rewards._settings import reward_settings
from rubricate.rubric import Rubric
from rubricate.session import Session
from rubricate.settings import read_jury_file
from rubricate.types import Message

__all__ = ["TournamentReward", "tournament_reward"]

_RUBRIC_COLUMNS = ("rubric", "rubrics")


class TournamentReward:
    """A TRL reward function rewarding completions by tournament win rate within their prompt.

    Args:
        opponents: matches per completion (``None``: round robin).
        orders: ``both`` (default) or ``one``.
        seed: schedules are seeded by this and the prompt.
        name: the name TRL logs the reward under.
        settings: judge settings as for ``rubric_reward`` (``judge_url``, ``judge_model``,
            ``cache``, ``concurrency``, ``jury`` ...). With a jury every member judges every
            match and the rule decides each order (majority, weighted or unanimous).
    """

    def __init__(
        self,
        *,
        opponents: int | None = None,
        orders: Orders = "both",
        seed: int = 0,
        name: str = "tournament_reward",
        **settings: Any,
    ) -> None:
        # Fail at construction on a bad setting (or a jury rule a match cannot use), not at step 1.
        judge_settings, _ = reward_settings(settings)
        if judge_settings.jury is not None:
            read_jury_file(judge_settings.jury, rules=PAIRWISE_RULES)
        if opponents is not None and opponents < 1:
            raise ConfigError("opponents must be at least 1 (or None for a round robin)")
        self.options = CompareOptions(orders=orders)
        self.opponents = opponents
        self.seed = seed
        self.settings = settings
        self.__name__ = name
        self._loop: LoopThread | None = None
        self._session: Session | None = None
        self._comparer: Comparer | None = None

    def __getstate__(self) -> dict[str, Any]:
        # Picklable for multiprocessing trainers: only settings travel.
        return {**self.__dict__, "_loop": None, "_session": None, "_comparer": None}

    def _build(self) -> Comparer:
        judge_settings, _ = reward_settings(self.settings)
        self._session = Session(judge_settings)
        self._comparer = Comparer(
            self._session.jury or self._session.judge,
            store=self._session.store,
            options=self.options,
            concurrency=judge_settings.concurrency,
            reasks=judge_settings.reasks,
        )
        return self._comparer

    @property
    def comparer(self) -> Comparer:
        """The comparer (judge and cache are built on first use)."""
        return self._comparer if self._comparer is not None else self._build()

    async def group_rewards(
        self, messages: Sequence[Message], completions: Sequence[str], rubric: Rubric | None = None
    ) -> list[float | None]:
        """Rewards of one group (the completions of ``messages``), on the caller's loop."""
        result = await tournament(
            self.comparer,
            messages,
            completions,
            opponents=self.opponents,
            seed=self.seed,
            rubric=rubric,
        )
        return list(result.rewards)

    async def _batch(
        self, prompts: Sequence[Any], completions: Sequence[Any], columns: Mapping[str, Any]
    ) -> list[float | None]:
        if len(prompts) != len(completions):
            raise InputError(
                f"got {len(prompts)} prompts and {len(completions)} completions", field="prompts"
            )
        column = next((c for c in _RUBRIC_COLUMNS if c in columns), None)
        groups: dict[tuple[tuple[str, str], ...], list[int]] = {}
        firsts: dict[tuple[tuple[str, str], ...], tuple[tuple[Message, ...], Rubric | None]] = {}
        texts = [completion_text(c, f"completions[{i}]") for i, c in enumerate(completions)]
        for index, prompt in enumerate(prompts):
            messages = messages_of(prompt, f"prompts[{index}]")
            key = tuple((m.role, m.content) for m in messages)
            if key not in groups:
                rubric = None
                if column is not None and columns[column][index] is not None:
                    rubric = parse_rubric(columns[column][index], f"{column}[{index}]", "group")
                firsts[key] = (messages, rubric)
            groups.setdefault(key, []).append(index)
        rewards: list[float | None] = [None] * len(texts)
        keys = list(groups)
        results = await asyncio.gather(
            *(
                self.group_rewards(firsts[k][0], [texts[i] for i in groups[k]], firsts[k][1])
                for k in keys
            )
        )
        for key, group_rewards in zip(keys, results, strict=True):
            for index, reward in zip(groups[key], group_rewards, strict=True):
                rewards[index] = reward
        return rewards

    def __call__(
        self, prompts: Sequence[Any], completions: Sequence[Any], **columns: Any
    ) -> list[float | None]:
        if self._loop is None:
            self._loop = LoopThread(self._build, name="rubricate-tournament")
        return self._loop.run(self._batch(prompts, completions, columns))

    def close(self) -> None:
        """Close the judge and the cache (the function can be called again afterwards)."""
        session, loop = self._session, self._loop
        self._session = self._comparer = None
        self._loop = None
        if loop is not None:
            loop.close(session.aclose() if session is not None else None)
        elif session is not None:
            session.close()


def tournament_reward(
    *, opponents: int | None = None, orders: Orders = "both", seed: int = 0, **settings: Any
) -> TournamentReward:
    """A ``TournamentReward`` (see the module docstring)."""
    return TournamentReward(opponents=opponents, orders=orders, seed=seed, **settings)
