"""Judges from settings: the HTTP pool or the embedded llama.cpp judge, and the policy model."""

from __future__ import annotations

from rubricate.backends import Judge
from rubricate.errors import ConfigError
from rubricate.settings._groups import JudgeSettings, PolicySettings

__all__ = ["build_judge", "build_policy"]


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
