"""The public entry points: ``create_judge``, and ``grade`` / ``grade_async`` over samples in memory."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import ValidationError

from rubricate.backends import Judge, close_judge
from rubricate.engine import Constrain, EvidenceMode, GradeOptions, SkippedSample, run_sync
from rubricate.errors import ConfigError, InputError
from rubricate.judge import Layout, Mode
from rubricate.results import RunSummary, SampleResult
from rubricate.runs import RunAccumulator
from rubricate.scoring import Method
from rubricate.session import Session
from rubricate.settings import JudgeSettings, build_judge
from rubricate.store import Store
from rubricate.types import Sample

__all__ = ["GradeResult", "create_judge", "grade", "grade_async"]

LOCAL = "local"


def create_judge(
    url: str | Sequence[str] = LOCAL,
    *,
    model: str | None = None,
    concurrency: int = 16,
    timeout: float = 120.0,
    max_retries: int = 5,
    rpm: float | None = None,
    tpm: float | None = None,
    hedge_after: float | None = None,
    temperature: float = 0.0,
    threads: int | None = None,
    context: int = 8192,
    on_overflow: Literal["error", "truncate"] = "error",
    explain: bool = False,
) -> Judge:
    """A judge behind an OpenAI-compatible URL (several: a balanced pool), or ``"local"``.

    ``create_judge("http://127.0.0.1:8000/v1", model="NAME")`` calls a server (vLLM, SGLang,
    llama.cpp, OpenAI; the API key comes from ``RUBRICATE_API_KEY`` or ``OPENAI_API_KEY``);
    ``create_judge("local")`` runs the embedded llama.cpp judge on the CPU.

    Args:
        url: base URL(s) ending in ``/v1``, or ``"local"``.
        model: the model name on the server; for ``"local"``, a known local model name or a
            GGUF path (default: the default local model).
        concurrency, timeout, max_retries, rpm, tpm, hedge_after, temperature: server calls'
            limits and sampling, as the ``rubricate grade`` options of the same names.
        threads, context, on_overflow: the local judge's CPU threads, context size and what
            to do with a prompt longer than the context.
        explain: the local judge generates an explanation instead of reading probabilities.

    Raises:
        ConfigError: a bad value (the message names the argument).
        MissingDependency: ``"local"`` without ``rubricate[local]`` installed.
    """
    local = url == LOCAL
    urls = [] if local else [url] if isinstance(url, str) else list(url)
    values = {
        "judge": "local" if local else "openai",
        "judge_urls": urls,
        "judge_model": None if local else model,
        "local_model": model if local else None,
        "concurrency": concurrency,
        "timeout": timeout,
        "max_retries": max_retries,
        "rpm": rpm,
        "tpm": tpm,
        "hedge_after": hedge_after,
        "temperature": temperature,
        "threads": threads,
        "context": context,
        "on_overflow": on_overflow,
        "explain": explain,
    }
    try:
        settings = JudgeSettings.model_validate(values)
    except ValidationError as error:
        problems = "; ".join(
            f"argument '{'.'.join(str(p) for p in item['loc'])}': {item['msg']}"
            for item in error.errors()
        )
        raise ConfigError(f"create_judge: {problems}") from None
    if not local and not model:
        raise ConfigError("create_judge: a server judge needs model=NAME")
    return build_judge(settings)


@dataclass(frozen=True)
class GradeResult:
    """Per-sample results in input order and the run summary."""

    results: list[SampleResult]
    summary: RunSummary


async def grade_async(
    samples: Iterable[Sample | InputError],
    judge: Judge,
    *,
    store: Store | str | Path | None = None,
    policy: Judge | None = None,
    skip_invalid: bool = False,
    seed: int = 0,
    mode: Mode = "per-criterion",
    group_size: int = 4,
    method: Method = "healthbench",
    soft: bool = False,
    explain: bool = False,
    probabilities: bool = False,
    max_tokens: int | None = None,
    reasks: int = 2,
    concurrency: int = 16,
    window: int | None = None,
    evidence: EvidenceMode = "off",
    constrain: Constrain = "off",
    keep_replies: bool = False,
    layout: Layout = "response-first",
) -> GradeResult:
    """Grade ``samples`` with ``judge`` and score them.

    Args:
        samples: samples (or the ``InputError`` items a reader yields for bad records).
        judge: any ``Judge``, e.g. from ``create_judge``; not closed here.
        store: a ``Store`` or a path to its SQLite file; ``None`` disables the cache.
        policy: a judge-like model that writes missing responses; not closed here.
        skip_invalid: count bad records instead of raising the first one.
        seed: bootstrap seed of the summary.
        mode, group_size, method, soft, explain, probabilities, max_tokens, reasks,
            concurrency, window, evidence, constrain, keep_replies, layout: how to grade;
            see ``GradeOptions``.
    """
    options = GradeOptions(
        mode=mode,
        group_size=group_size,
        method=method,
        soft=soft,
        explain=explain,
        probabilities=probabilities,
        max_tokens=max_tokens,
        reasks=reasks,
        concurrency=concurrency,
        window=window,
        evidence=evidence,
        constrain=constrain,
        keep_replies=keep_replies,
        layout=layout,
    )
    accumulator = RunAccumulator()
    results: list[SampleResult] = []
    async with Session(
        judge=judge,
        store=store,
        policy=policy,
        options=options,
        owns_judge=False,
        owns_policy=False,
    ) as session:
        grader, sampler = session.grader, session.sampler
        respond = sampler.respond if sampler is not None else None
        async for item in grader.iter_grade(samples, respond=respond):
            if isinstance(item, SkippedSample):
                if not skip_invalid:
                    raise InputError(item.reason)
                accumulator.skip(item.reason)
                continue
            results.append(item)
            accumulator.add(item)
    summary = accumulator.graded(grader, sampler, seed=seed)
    return GradeResult(results, summary)


def grade(
    samples: Iterable[Sample | InputError],
    judge: Judge,
    *,
    store: Store | str | Path | None = None,
    policy: Judge | None = None,
    skip_invalid: bool = False,
    seed: int = 0,
    mode: Mode = "per-criterion",
    group_size: int = 4,
    method: Method = "healthbench",
    soft: bool = False,
    explain: bool = False,
    probabilities: bool = False,
    max_tokens: int | None = None,
    reasks: int = 2,
    concurrency: int = 16,
    window: int | None = None,
    evidence: EvidenceMode = "off",
    constrain: Constrain = "off",
    keep_replies: bool = False,
    layout: Layout = "response-first",
) -> GradeResult:
    """``grade_async`` for scripts (same arguments), through ``rubricate.engine.run_sync``.

    The judge's (and policy's) connections belong to the event loop this call creates, so
    they are closed before it ends; a judge reconnects if used again.
    """

    async def run() -> GradeResult:
        try:
            return await grade_async(
                samples,
                judge,
                store=store,
                policy=policy,
                skip_invalid=skip_invalid,
                seed=seed,
                mode=mode,
                group_size=group_size,
                method=method,
                soft=soft,
                explain=explain,
                probabilities=probabilities,
                max_tokens=max_tokens,
                reasks=reasks,
                concurrency=concurrency,
                window=window,
                evidence=evidence,
                constrain=constrain,
                keep_replies=keep_replies,
                layout=layout,
            )
        finally:
            await close_judge(judge)
            if policy is not None:
                await close_judge(policy)

    return run_sync(run())
