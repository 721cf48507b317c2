"""Grading on a Ray cluster with Ray Data (``rubricate grade --ray ADDRESS``).

The driver reads the data exactly as a local run does (same readers, ``--field`` mappings,
``--responses``, ``--limit``, bad-record handling), ships the samples to a pool of Ray actors,
and writes the same ``results.jsonl`` and ``summary.json`` as ``rubricate grade``. Each actor
builds its own judge from the same settings (so the same pool, limits and retries apply per
actor) and its own cache at the settings' cache path on its node; judgments are
content-addressed, so actors sharing a file (one machine, or a shared volume) share hits.

Use it when one process cannot keep the judges busy: many judge servers behind a large
concurrency, or an embedded local judge that should run on several machines. For a single
OpenAI-compatible endpoint, one process with ``--concurrency`` is usually enough.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from rubricate.engine import Grader
from rubricate.errors import ConfigError, InputError, MissingDependency
from rubricate.results import Counts, RunSummary, SampleResult, Tokens
from rubricate.rubric import Rubric
from rubricate.runs import OnInvalid, RunAccumulator, write_json
from rubricate.settings import JudgeSettings, build_judge
from rubricate.store import Store
from rubricate.types import Message, Sample

__all__ = ["grade_on_ray", "sample_from_row", "sample_to_row"]

logger = logging.getLogger(__name__)

_COUNT_FIELDS = tuple(Counts.model_fields)
_TOKEN_FIELDS = tuple(Tokens.model_fields)


def sample_to_row(sample: Sample) -> dict[str, Any]:
    """A sample as a plain row that Ray can move between processes."""
    return {
        "id": sample.id,
        "messages": json.dumps([[m.role, m.content] for m in sample.messages], ensure_ascii=False),
        "rubric": sample.rubric.model_dump_json(),
        "response": sample.response,
        "metadata": json.dumps(sample.metadata, ensure_ascii=False, default=str),
        "invalid": "",
    }


def sample_from_row(row: dict[str, Any]) -> Sample:
    """The inverse of ``sample_to_row``."""
    messages = tuple(Message(role, content) for role, content in json.loads(row["messages"]))
    response = row["response"]
    return Sample(
        str(row["id"]),
        messages,
        Rubric.model_validate_json(row["rubric"]),
        None
        if response is None or (isinstance(response, float) and response != response)
        else str(response),
        json.loads(row["metadata"]),
    )


def _invalid_row(error: InputError) -> dict[str, Any]:
    return {
        "id": "",
        "messages": "[]",
        "rubric": "",
        "response": None,
        "metadata": "{}",
        "invalid": str(error),
    }


class _GradeActor:
    """A Ray Data actor: one judge, one cache, one event loop, reused for every batch."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = JudgeSettings.model_validate(settings)
        self.loop = asyncio.new_event_loop()
        self.judge = build_judge(self.settings)
        path = self.settings.cache_path()
        self.store = Store(path) if path is not None else None
        self.grader = Grader(self.judge, store=self.store, options=self.settings.grade_options())

    async def _one(self, row: dict[str, Any]) -> tuple[str, str]:
        if row["invalid"]:
            return "skip", row["invalid"]
        try:
            result = await self.grader.grade_sample(sample_from_row(row))
        except InputError as error:
            return "skip", str(error)
        return "result", result.model_dump_json()

    async def _batch(self, rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
        return list(await asyncio.gather(*(self._one(r) for r in rows)))

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        rows = [
            dict(zip(batch, values, strict=True)) for values in zip(*batch.values(), strict=True)
        ]
        before = (self.grader.counts.snapshot(), self.grader.tokens.snapshot())
        graded = self.loop.run_until_complete(self._batch(rows))
        after = (self.grader.counts.snapshot(), self.grader.tokens.snapshot())
        delta = {
            "counts": {f: getattr(after[0], f) - getattr(before[0], f) for f in _COUNT_FIELDS},
            "tokens": {f: getattr(after[1], f) - getattr(before[1], f) for f in _TOKEN_FIELDS},
            "judge": self.judge.fingerprint,
            "template": self.grader.template.version,
        }
        return {
            "kind": [kind for kind, _ in graded],
            "payload": [payload for _, payload in graded],
            "stats": [json.dumps(delta)] + [""] * (len(graded) - 1),
        }


def _windows(items: Iterable[Sample | InputError], size: int) -> Iterator[list[dict[str, Any]]]:
    window: list[dict[str, Any]] = []
    for item in items:
        window.append(_invalid_row(item) if isinstance(item, InputError) else sample_to_row(item))
        if len(window) >= size:
            yield window
            window = []
    if window:
        yield window


def _import_ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError as error:
        raise MissingDependency("ray[data]", "ray") from error
    return ray


def grade_on_ray(
    samples: Iterable[Sample | InputError],
    settings: JudgeSettings,
    out_dir: str | Path,
    *,
    address: str | None = "auto",
    workers: int | None = None,
    batch_size: int = 64,
    window: int = 20_000,
    on_invalid: OnInvalid = "error",
    seed: int = 0,
) -> RunSummary:
    """Grade ``samples`` on a Ray cluster into ``out_dir`` (the files ``rubricate grade`` writes).

    Args:
        samples: samples or reader ``InputError`` items, as ``read_samples`` yields them.
        settings: the judge settings each actor builds its judge, cache and grader from.
        address: Ray address (``auto`` joins a running cluster, ``local`` starts one here,
            ``ray://host:10001`` connects a client); ``None`` uses an already-initialised Ray.
        workers: grading actors (default: one per CPU of the cluster, at most 8).
        batch_size: samples per actor call, graded concurrently within the actor.
        window: samples sent to Ray per pass (bounds the driver's and object store's memory).
        on_invalid: ``error`` stops at the first bad record, ``skip`` counts and lists it.
        seed: bootstrap seed of the summary.
    """
    if settings.kind == "local" and settings.local_model is None:
        logger.info("each Ray actor loads the default local judge model")
    ray = _import_ray()
    if address is not None and not ray.is_initialized():
        ray.init(
            address=None if address == "local" else address,
            ignore_reinit_error=True,
            include_dashboard=False,
        )
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True
    context.enable_progress_bars = False
    count = workers or max(1, min(8, int(ray.cluster_resources().get("CPU", 1))))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    partial, final = out / "results.jsonl.partial", out / "results.jsonl"
    accumulator = RunAccumulator()
    counts, tokens = Counts(), Tokens()
    judge, template = "", ""
    started = time.perf_counter()
    with open(partial, "w", encoding="utf-8") as handle:
        for rows in _windows(samples, window):
            if on_invalid == "error":
                first_bad = next((r["invalid"] for r in rows if r["invalid"]), None)
                if first_bad is not None:
                    raise InputError(first_bad)
            dataset = ray.data.from_items(
                rows, override_num_blocks=max(1, min(len(rows) // batch_size, 4 * count))
            )
            graded = dataset.map_batches(
                _GradeActor,
                fn_constructor_kwargs={"settings": settings.model_dump(mode="json")},
                batch_size=batch_size,
                concurrency=count,
                batch_format="numpy",
            )
            for row in graded.iter_rows():
                if row["stats"]:
                    stats = json.loads(row["stats"])
                    counts = Counts(
                        **{f: getattr(counts, f) + stats["counts"][f] for f in _COUNT_FIELDS}
                    )
                    tokens = Tokens(
                        **{f: getattr(tokens, f) + stats["tokens"][f] for f in _TOKEN_FIELDS}
                    )
                    judge, template = stats["judge"], stats["template"]
                if row["kind"] == "skip":
                    if on_invalid == "error":
                        raise InputError(str(row["payload"]))
                    logger.warning("skipped: %s", row["payload"])
                    accumulator.skip(str(row["payload"]))
                    continue
                handle.write(str(row["payload"]) + "\n")
                accumulator.add(SampleResult.model_validate_json(row["payload"]))
    os.replace(partial, final)
    summary = accumulator.summary(
        method=settings.method,
        counts=counts,
        tokens=tokens,
        judge=judge,
        template=template,
        elapsed_s=time.perf_counter() - started,
        seed=seed,
    )
    write_json(out / "summary.json", summary.model_dump(mode="json"))
    return summary


def check_ray_options(policy_url: list[str] | None) -> None:
    """Options a Ray run cannot honour yet."""
    if policy_url:
        raise ConfigError(
            "--ray does not sample responses with --policy-url yet; grade responses given in the data"
        )
