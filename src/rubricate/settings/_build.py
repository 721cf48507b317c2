"""Judges from settings: the HTTP pool or the embedded llama.cpp judge, and the policy model."""

from __future__ import annotations

from rubricate.backends import Judge, close_judge
from rubricate.engine import Jury, JuryMember, run_sync
from rubricate.errors import ConfigError
from rubricate.settings._groups import JudgeSettings, PolicySettings
from rubricate.settings._jury import read_jury_file

__all__ = ["build_judge", "build_jury", "build_policy"]


def build_judge(settings: JudgeSettings) -> Judge:
    """The judge the settings describe (HTTP pool or embedded llama.cpp)."""
    if settings.kind == "openai":
        if not settings.judge_urls:
            raise ConfigError(
                "an OpenAI-compatible judge needs --judge-url (or RUBRICATE_JUDGE_URL)"
            )
        if not settings.judge_model:
            raise ConfigError(
                "an OpenAI-compatible judge needs --judge-model (or RUBRICATE_JUDGE_MODEL)"
            )
        from rubricate.backends.pool import create_openai_judge

        return create_openai_judge(
            settings.judge_urls,
            settings.judge_model,
            temperature=settings.temperature,
            timeout=settings.timeout,
            max_retries=settings.max_retries,
            concurrency=settings.concurrency,
            rpm=settings.rpm,
            tpm=settings.tpm,
            hedge_after=settings.hedge_after,
            breaker_failures=settings.breaker_failures or None,
            breaker_cooldown=settings.breaker_cooldown,
        )
    from rubricate.backends import create_local_judge
    from rubricate.models import resolve_model

    path = resolve_model(settings.local_model)
    return create_local_judge(
        path,
        n_threads=settings.threads,
        n_ctx=settings.context,
        explain=settings.explain,
        on_overflow=settings.on_overflow,
        temperature=settings.temperature,
        max_retries=settings.max_retries,
        rpm=settings.rpm,
        tpm=settings.tpm,
    )


def build_policy(policy: PolicySettings, judge: JudgeSettings) -> Judge | None:
    """The policy model, or ``None`` without ``policy.urls``; calls share the judge's limits."""
    if not policy.urls:
        return None
    if not policy.model:
        raise ConfigError("--policy-url needs --policy-model (or RUBRICATE_POLICY_MODEL)")
    from rubricate.backends.pool import create_openai_judge

    return create_openai_judge(
        policy.urls,
        policy.model,
        concurrency=judge.concurrency,
        timeout=judge.timeout,
        max_retries=judge.max_retries,
        breaker_failures=judge.breaker_failures or None,
        breaker_cooldown=judge.breaker_cooldown,
        temperature=0.7,
    )


def build_jury(settings: JudgeSettings) -> Jury | None:
    """The jury ``settings.jury`` names (``None`` without one).

    Each member is the judge settings with the member's URL(s) and model (or local model):
    it gets its own fingerprint, retries, rate limits and circuit breaker. Members already
    built are closed when a later one fails.
    """
    if settings.jury is None:
        return None
    spec = read_jury_file(settings.jury)
    members: list[JuryMember] = []
    try:
        for entry in spec.judges:
            update: dict[str, object]
            if entry.local_model is not None:
                update = {"judge": "local", "local_model": entry.local_model, "judge_urls": []}
            else:
                update = {
                    "judge": "openai",
                    "judge_urls": entry.all_urls,
                    "judge_model": entry.model,
                }
            member = settings.model_copy(update={**update, "jury": None})
            judge = build_judge(member)
            members.append(JuryMember(judge, entry.weight, entry.name or ""))
        return Jury(tuple(members), spec.rule)
    except BaseException:
        for built in members:
            run_sync(close_judge(built.judge))
        raise
