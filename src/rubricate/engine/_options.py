"""How to grade (``GradeOptions``) and what a sample that cannot be graded becomes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rubricate.errors import ConfigError
from rubricate.judge import SCHEMA_VERSION, Layout, Mode
from rubricate.scoring import Method

__all__ = ["GROUP_WINDOW", "Constrain", "EvidenceMode", "GradeOptions", "SkippedSample"]

EvidenceMode = Literal["off", "on", "strict"]
# Samples in flight in the rubric-first layout when calls go one at a time: a GRPO group of
# up to this many completions then has its calls on each rubric chunk sent back to back.
GROUP_WINDOW = 16
Constrain = Literal["off", "json_schema"]


@dataclass(frozen=True, slots=True)
class GradeOptions:
    """How to grade.

    Attributes:
        mode: ``per-criterion`` (one call per criterion) or ``grouped`` (``group_size`` per call).
        method: scoring method, see ``rubricate.scoring``.
        soft: use the judge's P(met) as the criterion value where known.
        explain: ask the judge for a short explanation before each verdict.
        probabilities: ask remote judges for token log-probabilities to fill ``probability``.
        max_tokens: completion budget per call (default depends on mode and ``explain``).
        reasks: how many times an unparseable or incomplete reply is asked again.
        concurrency: judge calls in flight at once.
        window: samples in flight at once (bounds memory; default 4 x concurrency, or 1
            when calls go one at a time).
        evidence: ``on`` asks for verbatim quotes supporting each verdict and checks them
            against the response; ``strict`` also counts a met without a verified quote as
            not met (see ``rubricate.judge.require_evidence``).
        constrain: ``json_schema`` sends each request's reply schema (a grammar for the
            embedded judge), so the judge cannot answer out of format.
        keep_replies: keep the raw reply that decided each verdict (``Verdict.reply``), in
            results and in the cache.
        layout: ``response-first`` puts the conversation and the response before the
            criteria (one response, many calls); ``rubric-first`` (grouped mode only) puts
            the conversation and a chunk of the rubric before the response, so the calls of
            several responses to one prompt and rubric share their prefix. Its chunks are
            the rubric's criteria in order, ``group_size`` at a time, whatever is cached.
            With ``concurrency`` 1 the default window is then 16 samples.
    """

    mode: Mode = "per-criterion"
    group_size: int = 4
    method: Method = "healthbench"
    soft: bool = False
    explain: bool = False
    probabilities: bool = False
    max_tokens: int | None = None
    reasks: int = 2
    concurrency: int = 16
    window: int | None = None
    evidence: EvidenceMode = "off"
    constrain: Constrain = "off"
    keep_replies: bool = False
    layout: Layout = "response-first"

    def __post_init__(self) -> None:
        if self.mode not in ("per-criterion", "grouped"):
            raise ConfigError(f"unknown mode '{self.mode}' (per-criterion or grouped)")
        if self.group_size < 1:
            raise ConfigError("group_size must be at least 1")
        if self.concurrency < 1:
            raise ConfigError("concurrency must be at least 1")
        if self.reasks < 0:
            raise ConfigError("reasks must be 0 or more")
        if self.evidence not in ("off", "on", "strict"):
            raise ConfigError(f"unknown evidence '{self.evidence}' (off, on or strict)")
        if self.constrain not in ("off", "json_schema"):
            raise ConfigError(f"unknown constrain '{self.constrain}' (off or json_schema)")
        if self.layout not in ("response-first", "rubric-first"):
            raise ConfigError(f"unknown layout '{self.layout}' (response-first or rubric-first)")
        if self.layout == "rubric-first" and self.mode != "grouped":
            # One criterion per call before the response would re-read the response per
            # criterion: the opposite of what either layout is for.
            raise ConfigError(
                "layout 'rubric-first' needs mode 'grouped' (--mode grouped, with --group-size "
                "at least the rubric's criteria to read each response once)"
            )

    @property
    def mode_tag(self) -> str:
        tag = self.mode if self.mode == "per-criterion" else f"grouped:{self.group_size}"
        if self.layout == "rubric-first":
            tag += "+rubric-first"  # its template version differs too; the chunking as well
        # A schema changes what the judge may say; without one the key stays as it always was.
        if self.constrain != "off":
            tag += f"+{self.constrain}.v{SCHEMA_VERSION}"
        return tag

    def tokens_for(self, n_criteria: int) -> int:
        if self.max_tokens is not None:
            return self.max_tokens
        per = 160 if self.explain else 24
        if self.evidence != "off":
            per += 120  # up to three short quotes
        return 40 + per * n_criteria


@dataclass(frozen=True, slots=True)
class SkippedSample:
    """A sample that could not be graded (bad line, no response); counted, never scored."""

    reason: str
