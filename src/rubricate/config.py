"""One configuration tree for the CLI, the reward server and the RL integrations.

Precedence: explicit values (flags, keyword arguments) over ``RUBRICATE_*`` environment
variables over defaults. Secrets come only from the environment and never appear in a
fingerprint, a log line or a result.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rubricate.backends import Judge
from rubricate.engine import GradeOptions
from rubricate.errors import ConfigError

__all__ = ["JudgeSettings", "build_judge", "build_policy", "default_cache_path"]

JudgeKind = Literal["openai", "local"]


def default_cache_path() -> Path:
    """``RUBRICATE_CACHE`` or ``~/.cache/rubricate/store.sqlite``."""
    env = os.environ.get("RUBRICATE_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rubricate" / "store.sqlite"


_ENV = {
    "judge": "RUBRICATE_JUDGE",
    "judge_urls": "RUBRICATE_JUDGE_URL",
    "judge_model": "RUBRICATE_JUDGE_MODEL",
    "local_model": "RUBRICATE_LOCAL_MODEL",
    "concurrency": "RUBRICATE_CONCURRENCY",
    "rpm": "RUBRICATE_RPM",
    "tpm": "RUBRICATE_TPM",
    "timeout": "RUBRICATE_TIMEOUT",
    "max_retries": "RUBRICATE_MAX_RETRIES",
    "hedge_after": "RUBRICATE_HEDGE_AFTER",
    "temperature": "RUBRICATE_TEMPERATURE",
    "mode": "RUBRICATE_MODE",
    "group_size": "RUBRICATE_GROUP_SIZE",
    "method": "RUBRICATE_METHOD",
    "explain": "RUBRICATE_EXPLAIN",
    "probabilities": "RUBRICATE_PROBABILITIES",
    "cache": "RUBRICATE_CACHE",
    "threads": "RUBRICATE_THREADS",
    "context": "RUBRICATE_CONTEXT",
    "on_overflow": "RUBRICATE_ON_OVERFLOW",
}


class JudgeSettings(BaseModel):
    """Which judge to call and how to grade with it.

    ``judge`` defaults to ``openai`` when URLs are given and to the embedded ``local``
    judge otherwise. ``cache=None`` means the default cache path; ``no_cache`` disables it.
    """

    model_config = ConfigDict(extra="forbid")

    judge: JudgeKind | None = None
    judge_urls: list[str] = Field(default_factory=list)
    judge_model: str | None = None
    local_model: str | None = None  # a GGUF path or a known local model name
    threads: int | None = None
    context: int = 8192
    on_overflow: Literal["error", "truncate"] = "error"  # local judge: prompt longer than context
    concurrency: int = 16
    rpm: float | None = None
    tpm: float | None = None
    timeout: float = 120.0
    max_retries: int = 5
    hedge_after: float | None = Field(default=None, gt=0)
    temperature: float = 0.0
    mode: Literal["per-criterion", "grouped"] = "per-criterion"
    group_size: int = 4
    method: Literal["healthbench", "normalized", "weighted_mean"] = "healthbench"
    soft: bool = False
    explain: bool = False
    probabilities: bool = False
    reasks: int = 2
    max_tokens: int | None = None
    cache: Path | None = None
    no_cache: bool = False

    @classmethod
    def from_env(cls, **overrides: Any) -> JudgeSettings:
        """Settings from ``RUBRICATE_*`` variables, with ``overrides`` (not ``None``) on top."""
        data: dict[str, Any] = {}
        for name, variable in _ENV.items():
            value = os.environ.get(variable)
            if value is None or value == "":
                continue
            if name == "judge_urls":
                data[name] = [u.strip() for u in value.split(",") if u.strip()]
            elif name in ("explain", "probabilities"):
                data[name] = value.strip().lower() in ("1", "true", "yes", "on")
            else:
                data[name] = value
        data.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            first = error.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            variable = _ENV.get(field)
            hint = f" (from flag or {variable})" if variable else ""
            raise ConfigError(f"setting '{field}'{hint}: {first['msg']}") from error

    @property
    def kind(self) -> JudgeKind:
        return self.judge or ("openai" if self.judge_urls else "local")

    def grade_options(self) -> GradeOptions:
        return GradeOptions(
            mode=self.mode,
            group_size=self.group_size,
            method=self.method,
            soft=self.soft,
            explain=self.explain,
            probabilities=self.probabilities,
            max_tokens=self.max_tokens,
            reasks=self.reasks,
            concurrency=self.concurrency if self.kind == "openai" else 1,
        )

    def cache_path(self) -> Path | None:
        return None if self.no_cache else (self.cache or default_cache_path())


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
        )
    from rubricate.backends.llamacpp import LlamaCppJudge
    from rubricate.models import resolve_model

    path = resolve_model(settings.local_model)
    return LlamaCppJudge(
        path,
        n_threads=settings.threads,
        n_ctx=settings.context,
        explain=settings.explain,
        on_overflow=settings.on_overflow,
    )


def build_policy(
    urls: list[str], model: str | None, *, concurrency: int, timeout: float, max_retries: int
) -> Judge:
    """An OpenAI-compatible policy model that writes missing responses."""
    if not model:
        raise ConfigError("--policy-url needs --policy-model")
    from rubricate.backends.pool import create_openai_judge

    return create_openai_judge(
        urls,
        model,
        concurrency=concurrency,
        timeout=timeout,
        max_retries=max_retries,
        temperature=0.7,
    )
