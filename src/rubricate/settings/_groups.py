"""The settings groups: one frozen model per concern, each field with its flag and variable."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator
from pydantic.fields import FieldInfo

from rubricate.engine import GradeOptions
from rubricate.errors import ConfigError

__all__ = [
    "GROUPS",
    "GenerateSettings",
    "JudgeSettings",
    "Option",
    "PolicySettings",
    "RewardSettings",
    "ServeSettings",
    "SettingField",
    "default_cache_path",
    "setting_fields",
]

JudgeKind = Literal["openai", "local"]


@dataclass(frozen=True, slots=True)
class Option:
    """How a settings field is spelled outside Python (put it in the field's ``Annotated``).

    Attributes:
        flag: command-line flag; default ``--`` + the group's flag prefix + the field name.
        env: environment variable; default the group's prefix + the field name upper-cased.
        inverse: the flag sets the field to ``False`` (``--no-gates`` for ``gates``).
        repeat: the flag may be repeated, each use adding one item.
        secret: never read from a file, never printed.
    """

    flag: str | None = None
    env: str | None = None
    inverse: bool = False
    repeat: bool = False
    secret: bool = False


def _comma_list(value: Any) -> Any:
    """``"a, b"`` (environment, flag) -> ``["a", "b"]``; other values pass through."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class _Group(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    env_prefix: ClassVar[str] = "RUBRICATE_"
    flag_prefix: ClassVar[str] = ""


def default_cache_path() -> Path:
    """``RUBRICATE_CACHE`` or ``~/.cache/rubricate/store.sqlite``."""
    env = os.environ.get("RUBRICATE_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rubricate" / "store.sqlite"


class JudgeSettings(_Group):
    """Which judge to call, within which limits, how to grade with it, and the cache."""

    judge: JudgeKind | None = Field(
        default=None, description="'openai' or 'local' (default: openai when --judge-url is given)."
    )
    judge_urls: Annotated[
        list[str], Option(flag="--judge-url", env="RUBRICATE_JUDGE_URL", repeat=True)
    ] = Field(
        default_factory=list,
        description="OpenAI-compatible base URL (…/v1); repeat for a balanced pool "
        "(environment: comma-separated).",
    )
    judge_model: str | None = Field(default=None, description="Judge model name on the server.")
    local_model: str | None = Field(
        default=None,
        description="Local judge: a GGUF path or a known model name (see `rubricate models`).",
    )
    threads: int | None = Field(default=None, ge=1, description="Local judge CPU threads.")
    context: int = Field(default=8192, ge=256, description="Local judge context size in tokens.")
    on_overflow: Literal["error", "truncate"] = Field(
        default="error",
        description="Local judge, prompt longer than the context: 'error' (an error verdict, "
        "counted) or 'truncate' (cut the middle of the response, reported).",
    )
    concurrency: int = Field(default=16, ge=1, description="Judge calls in flight.")
    rpm: float | None = Field(default=None, gt=0, description="Requests-per-minute budget.")
    tpm: float | None = Field(default=None, gt=0, description="Tokens-per-minute budget.")
    timeout: float = Field(default=120.0, gt=0, description="Per-request timeout in seconds.")
    max_retries: int = Field(default=5, ge=0, description="Retries per call on 429/5xx/timeouts.")
    hedge_after: float | None = Field(
        default=None,
        gt=0,
        description="Send a backup copy of a judge call unanswered after this many seconds.",
    )
    breaker_failures: int = Field(
        default=10,
        ge=0,
        description="Judge calls failing in a row (refused, dropped, timed out, 5xx) after "
        "which a judge server counts as down and its calls fail fast until a probe call "
        "answers; 0 turns the circuit breaker off.",
    )
    breaker_cooldown: float = Field(
        default=10.0,
        gt=0,
        le=3600,
        allow_inf_nan=False,
        description="Seconds a judge server counted as down is left alone before one probe "
        "call is sent (doubled after each failed probe, up to a minute or this value).",
    )
    temperature: float = Field(default=0.0, ge=0, description="Judge sampling temperature.")
    mode: Literal["per-criterion", "grouped"] = Field(
        default="per-criterion",
        description="per-criterion (one call each, prefix-cache friendly) or grouped.",
    )
    group_size: int = Field(default=4, ge=1, description="Criteria per call in grouped mode.")
    layout: Literal["response-first", "rubric-first"] = Field(
        default="response-first",
        description="Prompt layout: 'response-first' (conversation and response, then the "
        "criteria: one response on many criteria) or 'rubric-first' (grouped mode only: "
        "conversation and the criteria, then the response, so several responses to one "
        "prompt and rubric, such as a GRPO group, share the prompt prefix; use a "
        "--group-size of at least the rubric's criteria).",
    )
    method: Literal["healthbench", "normalized", "weighted_mean"] = Field(
        default="healthbench",
        description="Scoring method: healthbench, normalized or weighted_mean.",
    )
    soft: bool = Field(default=False, description="Score with the judge's P(met) where known.")
    length_penalty: float | None = Field(
        default=None,
        ge=0,
        allow_inf_nan=False,
        description="Also report HealthBench's length-adjusted score: score - PENALTY x "
        "(response characters - 2000) / 500 (use your subset's penalty; none is built in).",
    )
    max_error_rate: float = Field(
        default=0.02,
        ge=0,
        le=1,
        allow_inf_nan=False,
        description="Largest share of criteria that may end in error (failed calls, "
        "unparseable replies) before `grade` and `score` exit 6 with the run marked failed "
        "in summary.json; 1 allows any share.",
    )
    explain: bool = Field(default=False, description="Ask for a short explanation per verdict.")
    evidence: Literal["off", "on", "strict"] = Field(
        default="off",
        description="Ask the judge for verbatim quotes from the response supporting each met "
        "and check them against the response ('on'); 'strict' also counts a met without a "
        "found quote as not_met (a met pitfall stays met).",
    )
    constrain: Literal["off", "json_schema"] = Field(
        default="off",
        description="Constrain judge replies: 'json_schema' sends the reply's JSON schema "
        "(response_format) to OpenAI-compatible servers and a grammar to the local judge.",
    )
    probabilities: bool = Field(
        default=False, description="Ask remote judges for log-probabilities."
    )
    keep_replies: bool = Field(
        default=False,
        description="Keep each judge reply that decided a verdict: in results.jsonl "
        "(raw_replies, referenced from each verdict and jury vote), in the cache, and in "
        "the report's sample view. A verdict cached without its reply is marked not_cached "
        "and counted in summary.json (replies).",
    )
    reasks: int = Field(
        default=2, ge=0, description="Re-asks after an unparseable or incomplete judge reply."
    )
    max_tokens: int | None = Field(
        default=None, ge=1, description="Completion budget per judge call."
    )
    cache: Path | None = Field(
        default=None,
        description="SQLite cache file (default ~/.cache/rubricate/store.sqlite or RUBRICATE_CACHE).",
    )
    no_cache: bool = Field(
        default=False, description="Neither read nor write the cache (no resume)."
    )
    jury: Path | None = Field(
        default=None,
        description="Jury file (JSON or TOML: judges [{url, model, weight} or {local_model}] "
        "and rule majority|weighted|unanimous|any): these judges decide together; the "
        "--judge-* limits apply to each.",
    )
    calibration: Path | None = Field(
        default=None,
        description="calibration.json from `rubricate calibrate`: map each judge's P(met) "
        "and decide met at its threshold (binary criteria).",
    )

    _split_urls = field_validator("judge_urls", mode="before")(_comma_list)

    @field_validator("layout")
    @classmethod
    def _layout_needs_grouped_mode(cls, layout: str, info: ValidationInfo) -> str:
        # Checked here, not only in GradeOptions, so the error names where the layout was set.
        if layout == "rubric-first" and info.data.get("mode") == "per-criterion":
            raise ValueError(
                "'rubric-first' needs mode 'grouped' (--mode grouped, with --group-size at "
                "least the rubric's criteria to read each response once)"
            )
        return layout

    @property
    def kind(self) -> JudgeKind:
        """``judge``, or ``openai`` when URLs are given and ``local`` otherwise."""
        return self.judge or ("openai" if self.judge_urls else "local")

    def grade_options(self) -> GradeOptions:
        """The grading options these settings describe (one call at a time for a local judge)."""
        local = self.kind == "local" or self.jury is not None
        if self.layout == "rubric-first" and self.on_overflow == "truncate" and local:
            # The local judge cuts the middle of the shared prefix, which in this layout
            # holds the criteria rather than the response.
            raise ConfigError(
                "layout 'rubric-first' cannot be combined with on_overflow 'truncate' "
                "(it would cut the criteria): raise --context instead, or use "
                "--layout response-first"
            )
        return GradeOptions(
            mode=self.mode,
            group_size=self.group_size,
            method=self.method,
            soft=self.soft,
            explain=self.explain,
            probabilities=self.probabilities,
            max_tokens=self.max_tokens,
            reasks=self.reasks,
            # A local judge answers one call at a time; a jury's servers take their own.
            concurrency=self.concurrency if self.kind == "openai" or self.jury else 1,
            evidence=self.evidence,
            constrain=self.constrain,
            keep_replies=self.keep_replies,
            layout=self.layout,
        )

    def cache_path(self) -> Path | None:
        """The cache file, or ``None`` with ``no_cache``."""
        return None if self.no_cache else (self.cache or default_cache_path())


class PolicySettings(_Group):
    """An OpenAI-compatible policy model that writes the responses a dataset lacks."""

    env_prefix: ClassVar[str] = "RUBRICATE_POLICY_"
    flag_prefix: ClassVar[str] = "policy-"

    urls: Annotated[
        list[str], Option(flag="--policy-url", env="RUBRICATE_POLICY_URL", repeat=True)
    ] = Field(
        default_factory=list,
        description="OpenAI-compatible URL of a policy model that writes missing responses.",
    )
    model: str | None = Field(default=None, description="Model name for --policy-url.")
    max_tokens: int = Field(
        default=1024, ge=1, description="Completion budget of sampled responses."
    )

    _split_urls = field_validator("urls", mode="before")(_comma_list)


class RewardSettings(_Group):
    """How scores become rewards (``soft`` is the judge setting of the same name), and how the
    trainer integrations report them and share the judge."""

    env_prefix: ClassVar[str] = "RUBRICATE_REWARD_"

    clip: bool = Field(default=False, description="Clip scores to [0, 1] before shaping.")
    normalize: Literal["none", "zscore", "rank"] = Field(
        default="none",
        description="Group normalization: none, zscore or rank (within a prompt's completions).",
    )
    fallback: float = Field(
        default=0.0,
        description="Reward of an ungradable sample (reported in extra_logs.ungradable).",
    )
    gates: Annotated[bool, Option(flag="--no-gates", inverse=True)] = Field(
        default=True,
        description="Let failed required criteria floor the score (--no-gates: ignore them).",
    )
    gate_floor: float | None = Field(
        default=None, description="Reward floor of a failed gate (default: the rubric's)."
    )
    axes: tuple[str, ...] | None = Field(
        default=None, description="Comma-separated axes to report in extra_logs as axis/NAME."
    )
    axis_fill: float = Field(
        default=0.0,
        allow_inf_nan=False,
        description="Reported value of an axis the rubric has no criterion on (verl axis/NAME, "
        "TRL metrics, /verify reward_components).",
    )
    num_workers: int = Field(
        default=8,
        ge=1,
        description="verl: reward worker processes sharing --total-concurrency "
        "(set it to reward.num_workers).",
    )
    total_concurrency: Annotated[int | None, Option(env="RUBRICATE_TOTAL_CONCURRENCY")] = Field(
        default=None,
        ge=1,
        description="verl: judge calls in flight across all num_workers reward workers, "
        "each getting total // num_workers (instead of the per-process --concurrency).",
    )
    dropout: float = Field(
        default=0.0,
        ge=0,
        lt=1,
        allow_inf_nan=False,
        description="Rubric dropout: share of each sample's criteria left out of its reward "
        "(a seeded subset per sample and response; at least one criterion stays); 0 is off.",
    )
    seed: Annotated[int, Option(flag="--reward-seed")] = Field(
        default=0, description="Seed of rubric dropout and of the samples sent to the gold judge."
    )
    monitor_fraction: float = Field(
        default=0.0,
        ge=0,
        le=1,
        allow_inf_nan=False,
        description="Share of samples also graded by the gold judge to watch for reward "
        "hacking (chosen by a seeded hash of sample id and response); needs a gold judge.",
    )
    monitor_window: int = Field(
        default=256,
        ge=2,
        description="Samples the monitors' window statistics (gold divergence, length "
        "correlation) look back over, per process.",
    )
    gold_judge_urls: Annotated[
        list[str],
        Option(flag="--gold-judge-url", env="RUBRICATE_REWARD_GOLD_JUDGE_URL", repeat=True),
    ] = Field(
        default_factory=list,
        description="Gold judge: OpenAI-compatible base URL (…/v1); other judge settings "
        "(limits, mode, method) are the training judge's.",
    )
    gold_judge_model: str | None = Field(
        default=None, description="Gold judge: model name on its server."
    )
    gold_local_model: str | None = Field(
        default=None, description="Gold judge: a local GGUF path or known model name."
    )

    _split_axes = field_validator("axes", mode="before")(_comma_list)
    _split_gold_urls = field_validator("gold_judge_urls", mode="before")(_comma_list)

    def gold_judge(self, judge: JudgeSettings) -> JudgeSettings | None:
        """The gold judge's settings: ``judge``'s with the gold server or model, or ``None``
        when no gold judge is given."""
        if not self.gold_judge_urls and not self.gold_local_model:
            return None
        return judge.model_copy(
            update={
                "judge": "openai" if self.gold_judge_urls else "local",
                "judge_urls": list(self.gold_judge_urls),
                "judge_model": self.gold_judge_model,
                "local_model": self.gold_local_model,
            }
        )

    @field_validator("gate_floor", mode="before")
    @classmethod
    def _none_word(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in ("", "none"):
            return None
        return value


class ServeSettings(_Group):
    """``rubricate serve``: where to listen and how much load to admit."""

    env_prefix: ClassVar[str] = "RUBRICATE_SERVER_"

    host: str = Field(default="127.0.0.1", description="Interface to listen on.")
    port: int = Field(default=5000, ge=0, le=65535, description="Port to listen on.")
    rubrics: Path | None = Field(
        default=None,
        description="JSONL/JSON of rubrics ({id, rubric, prompt?}) that labels may name by id.",
    )
    api_key: Annotated[SecretStr | None, Option(secret=True)] = Field(
        default=None,
        description="Require this bearer token (better: set RUBRICATE_SERVER_API_KEY).",
    )
    max_pending: int = Field(
        default=8192,
        ge=1,
        description="Criteria admitted at once; beyond it requests get 503 + Retry-After "
        "(/get_reward and /verify wait in line first: --max-queued).",
    )
    deadline: float = Field(
        default=150.0, gt=0, description="Seconds a request may wait for its rewards (504 beyond)."
    )
    max_body_mb: float = Field(
        default=32.0, gt=0, description="Largest request body in MiB (413 beyond)."
    )
    max_queued: int | None = Field(
        default=None,
        ge=0,
        description="Criteria of /get_reward and /verify requests that wait in line beyond "
        "--max-pending (their clients ignore Retry-After) before 503 (default 4 x --max-pending).",
    )
    docs: bool = Field(
        default=False,
        description="Serve /docs and /openapi.json (behind the API key, like all but /healthz).",
    )
    tournament_max_group: int = Field(
        default=64,
        ge=2,
        le=1024,
        description="Most completions in one POST /v1/tournament group (422 beyond).",
    )
    tournament_opponents: int | None = Field(
        default=None,
        ge=1,
        description="POST /v1/tournament: matches per completion when a request names none "
        "(default: round robin).",
    )


class GenerateSettings(_Group):
    """Rubric generation (``rubricate generate``)."""

    env_prefix: ClassVar[str] = "RUBRICATE_GENERATE_"

    max_criteria: int = Field(default=8, ge=1, description="At most this many criteria per rubric.")
    min_criteria: int = Field(
        default=2, ge=1, description="Fewer valid criteria than this fail the item."
    )
    reasks: int = Field(
        default=2, ge=0, description="Re-asks after an unparseable reply or rejected criteria."
    )
    max_tokens: int = Field(
        default=768, ge=1, description="Completion budget of one generation call."
    )
    seed: int = Field(default=0, description="Generation seed (enters the cache key).")
    embed: bool = Field(
        default=False,
        description="Also dedup (and retrieve) by all-MiniLM-L6-v2 similarity (needs rubricate[embed]).",
    )


GROUPS: dict[str, type[_Group]] = {
    "judge": JudgeSettings,
    "policy": PolicySettings,
    "reward": RewardSettings,
    "serve": ServeSettings,
    "generate": GenerateSettings,
}


@dataclass(frozen=True, slots=True)
class SettingField:
    """One leaf of the tree with the names it has outside Python."""

    group: str
    name: str
    annotation: Any
    default: Any
    description: str
    flag: str
    env: str
    inverse: bool
    repeat: bool
    secret: bool

    @property
    def path(self) -> str:
        return f"{self.group}.{self.name}"


def _field(group: str, model: type[_Group], name: str, info: FieldInfo) -> SettingField:
    option = next((m for m in info.metadata if isinstance(m, Option)), Option())
    default = info.get_default(call_default_factory=True)
    return SettingField(
        group=group,
        name=name,
        annotation=info.annotation,
        default=default,
        description=info.description or "",
        flag=option.flag or "--" + model.flag_prefix + name.replace("_", "-"),
        env=option.env or model.env_prefix + name.upper(),
        inverse=option.inverse,
        repeat=option.repeat,
        secret=option.secret,
    )


@cache
def setting_fields() -> tuple[SettingField, ...]:
    """Every leaf of the settings tree, in declaration order."""
    return tuple(
        _field(group, model, name, info)
        for group, model in GROUPS.items()
        for name, info in model.model_fields.items()
    )
