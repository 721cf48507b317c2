"""Grading on a Ray cluster with Ray Data (``rubricate grade --ray ADDRESS``).

The driver reads the data exactly as a local run does (same readers, ``--field`` mappings,
``--responses``, ``--limit``, bad-record handling), ships the samples to a pool of Ray actors,
and writes the same ``results.jsonl`` and ``summary.json`` as ``rubricate grade``, through
the same ``RunWriter`` (journal, ``.partial`` + rename, skip policy). Each actor builds a
``Session`` from the same settings (so the same pool, limits and retries apply per actor,
and its cache is the settings' cache path on its node) and closes it when Ray retires the
actor. Judgments are content-addressed and every batch's verdicts are committed before the
batch returns, so actors sharing a cache file (one machine, or a shared volume) share hits,
and a killed run resumes like a local one: the same command asks only for what is missing.

Use it when one process cannot keep the judges busy: many judge servers behind a large
concurrency, or an embedded local judge that should run on several machines. For a single
OpenAI-compatible endpoint, one process with ``--concurrency`` is usually enough.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rubricate.errors import ConfigError, InputError, MissingDependency
from rubricate.results import CallCounts, Counts, RunSummary, SampleResult, Tokens
from rubricate.rubric import Rubric
from rubricate.runs import OnInvalid, RunAccumulator, RunWriter
from rubricate.session import Session
from rubricate.settings import JudgeSettings
from rubricate.store import Store
from rubricate.types import Message, Sample

__all__ = ["grade_on_ray", "sample_from_row", "sample_to_row"]

logger = logging.getLogger(__name__)


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
    """A Ray Data actor: one session (judge, cache, grader) and one event loop for every batch.

    Its counters are drained with each batch it returns, so the driver adds deltas.
    """

    def __init__(self, settings: dict[str, Any]) -> None:
        self.loop = asyncio.new_event_loop()
        self.session = Session(JudgeSettings.model_validate(settings))
        self.grader = self.session.grader

    async def _one(self, row: dict[str, Any]) -> tuple[str, str]:
        if row["invalid"]:
            return "skip", row["invalid"]
        try:
            result = await self.grader.grade_sample(sample_from_row(row))
        except InputError as error:
            return "skip", str(error)
        return "result", result.model_dump_json()

    async def _batch(self, rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
        try:
            return list(await asyncio.gather(*(self._one(r) for r in rows)))
        finally:
            self.grader.flush()  # every verdict of the batch is in the cache before it returns

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        rows = [
            dict(zip(batch, values, strict=True)) for values in zip(*batch.values(), strict=True)
        ]
        graded = self.loop.run_until_complete(self._batch(rows))
        grader = self.grader
        delta = {
            "counts": asdict(grader.counts),
            "tokens": asdict(grader.tokens),
            "judge": grader.fingerprint,
            "template": grader.template.version,
        }
        grader.scored = Counts()
        for engine in (grader, *grader.members):  # a jury counts in its members' engines
            engine.calls.counts = CallCounts()
        return {
            "kind": [kind for kind, _ in graded],
            "payload": [payload for _, payload in graded],
            "stats": [json.dumps(delta)] + [""] * (len(graded) - 1),
        }

    def __del__(self) -> None:
        # Ray Data deletes the actor's callable when its pool shuts down gracefully.
        loop = getattr(self, "loop", None)
        session = getattr(self, "session", None)
        if loop is None or loop.is_closed():
            return
        try:
            if session is not None:
                loop.run_until_complete(session.aclose())
        except Exception as error:  # a destructor must not raise; say what was not closed
            logger.warning("closing a grading actor's session failed: %s", error)
        finally:
            loop.close()


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
    config: dict[str, Any] | None = None,
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
        config: what the run was asked to do: its hash names the run in the journal of the
            settings' cache (a repeated command is a resumed attempt, as for a local run).
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
    accumulator = RunAccumulator(length_penalty=settings.length_penalty)
    counts, tokens = Counts(), Tokens()
    judge, template = "", ""
    store = Store(path) if (path := settings.cache_path()) is not None else None
    try:
        with RunWriter(
            out / "results.jsonl",
            out / "summary.json",
            store=store,
            config=config,
            on_invalid=on_invalid,
        ) as run:
            for rows in _windows(samples, window):
                if on_invalid == "error":
                    first_bad = next((r["invalid"] for r in rows if r["invalid"]), None)
                    if first_bad is not None:
                        run.skip(first_bad)
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
                        counts = counts + Counts(**stats["counts"])
                        tokens = tokens + Tokens(**stats["tokens"])
                        judge, template = stats["judge"], stats["template"]
                    if row["kind"] == "skip":
                        run.skip(str(row["payload"]))
                        accumulator.skip(str(row["payload"]))
                        continue
                    run.write(str(row["payload"]))
                    accumulator.add(SampleResult.model_validate_json(row["payload"]))
            summary = accumulator.summary(
                method=settings.method,
                counts=counts,
                tokens=tokens,
                judge=judge,
                template=template,
                elapsed_s=run.elapsed_s,
                seed=seed,
            )
            run.complete(summary.model_dump(mode="json"))
    finally:
        if store is not None:
            store.close()
    return summary


def check_ray_options(policy_url: list[str] | None) -> None:
    """Options a Ray run cannot honour yet."""
    if policy_url:
        raise ConfigError(
            "--ray does not sample responses with --policy-url yet; grade responses given in the data"
        )
