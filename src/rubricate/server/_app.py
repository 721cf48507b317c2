"""The reward server: OpenRLHF's ``/get_reward``, native ``/v1/grade``, ``/v1/reward`` and
``/v1/tournament``, health, metrics.

Every request goes through one ``RewardEngine`` (one judge pool, one cache, one Grader whose
in-flight table makes identical pending judgments once across requests). Admission is bounded
in criteria (a tournament's planned judge calls count as criteria): beyond ``max_pending`` the
server answers 503 with ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from rubricate.backends import BreakerState, breakers
from rubricate.results import SampleResult
from rubricate.rewards import (
    MONITOR_KEYS,
    Monitoring,
    RewardEngine,
    RewardOutcome,
    Shaping,
    shape_scores,
)
from rubricate.server._http import RefuseAmbiguousFraming
from rubricate.server._intake import REQUESTS_PER_TURN, Intake
from rubricate.server._metrics import Metrics
from rubricate.server._nemo import (
    AggregateMetricsRequest,
    VerifyRequest,
    aggregate_metrics,
    verify_reply,
    verify_sample,
)
from rubricate.server._openrlhf import (
    AdmissionQueue,
    openrlhf_reply,
    queue_capacity,
    refuse_group_normalization,
)
from rubricate.server._queue import Admission
from rubricate.server._requests import (
    GetRewardRequest,
    RubricBook,
    SamplesRequest,
    ServerError,
    decode_json,
    native_samples,
    openrlhf_samples,
    read_body,
    validate,
)
from rubricate.server._tournament import (
    nothing_decided,
    plan_tournaments,
    play_tournaments,
    register_tournament_metrics,
    tournament_reply,
)
from rubricate.server._tuning import relax_gc
from rubricate.settings import JudgeSettings
from rubricate.types import Sample
from rubricate.version import __version__

__all__ = ["ServerSettings", "create_app"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEADLINE_HEADER = "x-rubricate-deadline"
SHUTDOWN_GRACE_S = 10.0
# Bodies up to this size are parsed on the event loop: a worker thread's hand-off and wake-up
# cost more CPU than parsing an OpenRLHF request (about 0.1 ms), and at 8,192 requests a step
# the hand-off was about a tenth of the server's CPU (bench/reward_server_load.py). Parsing
# is linear in the body, so 64 KiB holds the loop for about a millisecond at most.
INLINE_PARSE_BYTES = 64 * 1024


@dataclass(frozen=True)
class ServerSettings:
    """How the server grades and how much load it accepts.

    Attributes:
        judge: judge and grading settings (the same as ``rubricate grade``).
        shaping: reward shaping (clip, normalization, fallback, gates, soft, axes).
        api_key: bearer token required on every endpoint but ``/healthz``; ``None`` for none.
        max_pending: criteria admitted at once (graded or waiting); more gets 503.
        deadline_s: longest a request waits for its rewards before a 504 (clients may ask
            for less with the ``X-Rubricate-Deadline`` header, in seconds).
        max_body_bytes: largest request body accepted (413 beyond).
        rubrics: a JSONL/JSON file of rubrics that labels and ``rubric_id`` may name.
        docs: serve ``/docs`` and ``/openapi.json`` (behind the API key like every endpoint).
        max_queued: criteria of ``/get_reward`` and ``/verify`` requests that may wait for
            admission (their clients cannot honour Retry-After); ``None``:
            ``RUBRICATE_SERVER_MAX_QUEUED`` or 4 × ``max_pending``.
        axis_fill: ``/verify``'s reward component of an axis the rubric lacks.
        monitoring: the reward-hacking monitors (gold judge on a share of samples; window).
        tournament_max_group: most completions in one ``/v1/tournament`` group.
        tournament_opponents: ``/v1/tournament``'s matches per completion when a request
            names none (``None``: round robin).
    """

    judge: JudgeSettings = field(default_factory=JudgeSettings)
    shaping: Shaping = field(default_factory=Shaping)
    api_key: str | None = field(default=None, repr=False)  # a secret: never in a repr or log
    max_pending: int = 8192
    deadline_s: float = 150.0
    max_body_bytes: int = 32 * 1024 * 1024
    rubrics: Path | None = None
    docs: bool = False
    max_queued: int | None = None
    axis_fill: float = 0.0
    monitoring: Monitoring = field(default_factory=Monitoring)
    tournament_max_group: int = 64
    tournament_opponents: int | None = None


class _State:
    def __init__(
        self, settings: ServerSettings, engine: RewardEngine | None, book: RubricBook
    ) -> None:
        self.settings = settings
        self.engine_or_none = engine
        self.book = book
        self.admission = Admission(settings.max_pending)
        self.queue = AdmissionQueue(
            self.admission, queue_capacity(settings.max_pending, settings.max_queued)
        )
        self.intake = Intake(REQUESTS_PER_TURN)
        self.metrics = _metrics(self)
        self.tasks: set[asyncio.Future[Any]] = set()
        self.in_flight = 0

    @property
    def engine(self) -> RewardEngine:
        if self.engine_or_none is None:
            raise ServerError(
                503, "starting", "the reward engine is not ready", headers={"Retry-After": "1"}
            )
        return self.engine_or_none

    def counts(self, name: str) -> float:
        engine = self.engine_or_none
        return float(getattr(engine.grader.counts, name)) if engine is not None else 0.0

    def gold_calls(self) -> float:
        grader = self.engine_or_none.gold_grader if self.engine_or_none is not None else None
        return float(grader.counts.judge_calls) if grader is not None else 0.0

    def monitor(self, key: str) -> float:
        engine = self.engine_or_none
        return engine.monitor.window_stats()[key] if engine is not None else 0.0

    async def watch(
        self, samples: Sequence[Sample], outcomes: list[RewardOutcome]
    ) -> list[RewardOutcome]:
        """The outcomes with their gold grades (the monitored share), recorded by the monitor."""
        # The server replies with no batch statistics (the window's are scraped from /metrics).
        watched, _ = await self.engine.watch(samples, outcomes, stats=False)
        self.metrics.inc("gold_samples_total", sum(o.monitored for o in watched))
        return watched

    def breakers(self) -> list[BreakerState]:
        """The judge's circuit breakers now (one per judge server; none for a local judge)."""
        engine = self.engine_or_none
        if engine is None:
            return []
        jury = engine.grader.jury
        judges = [m.judge for m in jury.members] if jury is not None else [engine.judge]
        return [b.snapshot() for judge in judges for b in breakers(judge)]


def _judge_state(breakers: Sequence[BreakerState]) -> str:
    """``ok`` (every breaker closed, or none), ``down`` (none closed) or ``degraded``."""
    closed = sum(1 for b in breakers if b.state == "closed")
    if closed == len(breakers):
        return "ok"
    return "down" if closed == 0 else "degraded"


def _judge_down(breakers: Sequence[BreakerState], *, probing: bool) -> ServerError | None:
    """The 503 for a judge whose every server is down, else ``None``.

    With ``probing`` false, a breaker whose cooldown is over counts as up: the request may
    carry the probe call that finds out whether the judge is back.
    """
    if not breakers or any(
        b.state == "closed" or (not probing and b.retry_in_s == 0.0) for b in breakers
    ):
        return None
    wait = max(1, math.ceil(min(b.retry_in_s for b in breakers)))
    last = next((b.last_failure for b in breakers if b.last_failure), "no answer")
    return ServerError(
        503,
        "judge_down",
        f"the judge is down ({last}); its calls fail fast until a probe call answers: "
        f"retry in {wait}s",
        headers={"Retry-After": str(wait)},
    )


def _metrics(state: _State) -> Metrics:
    metrics = Metrics()
    metrics.counter("requests_total", "HTTP requests by endpoint and status.")
    metrics.histogram("request_duration_seconds", "Request latency by endpoint.")
    metrics.counter("samples_total", "Samples graded.")
    metrics.counter(
        "ungradable_samples_total", "Samples whose criteria all errored (reward fell back)."
    )
    metrics.counter("rejected_total", "Requests refused before grading, by reason.")
    for name, attribute, text in (
        ("judge_calls_total", "judge_calls", "Judge calls answered."),
        ("judge_failed_calls_total", "failed_calls", "Judge calls that failed after retries."),
        ("cache_hits_total", "cache_hits", "Verdicts served from the cache."),
        ("deduplicated_total", "deduplicated", "Judgments shared with an identical pending one."),
        ("criterion_errors_total", "errors", "Criteria left without a verdict (error)."),
    ):
        metrics.callback(name, "counter", text, partial(state.counts, attribute))
    metrics.callback(
        "queue_depth",
        "gauge",
        "Criteria admitted and not finished.",
        lambda: state.admission.pending,
    )
    metrics.callback(
        "queue_capacity", "gauge", "Criteria admitted at most.", lambda: state.admission.capacity
    )
    metrics.callback(
        "requests_in_flight", "gauge", "Requests being served.", lambda: state.in_flight
    )
    metrics.callback(
        "intake_paced_total",
        "counter",
        "Requests of a burst whose parsing waited for a later event-loop turn.",
        lambda: state.intake.paced,
    )
    metrics.counter("gold_samples_total", "Samples also graded by the gold judge.")
    metrics.callback(
        "gold_judge_calls_total", "counter", "Gold judge calls answered.", state.gold_calls
    )
    for key in MONITOR_KEYS:
        if key.endswith("_window"):  # per-request values are in each reply instead
            metrics.callback(
                f"monitor_{key}",
                "gauge",
                f"Reward-hacking monitor {key} over the last --monitor-window samples.",
                partial(state.monitor, key),
            )
    metrics.callback(
        "judge_breakers_open",
        "gauge",
        "Judge servers counted as down (circuit breaker open or probing).",
        lambda: sum(1 for b in state.breakers() if b.state != "closed"),
    )
    register_tournament_metrics(metrics)
    return metrics


def _authorized(request: Request, api_key: str | None) -> bool:
    if api_key is None:
        return True
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        token.strip().encode(), api_key.encode()
    )


def _deadline(request: Request, limit: float) -> float:
    asked = request.headers.get(DEADLINE_HEADER)
    if asked is None:
        return limit
    try:
        value = float(asked)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ServerError(
            400, "invalid_header", f"{DEADLINE_HEADER} must be a finite number of seconds"
        )
    return max(0.001, min(limit, value))


async def _admitted(
    state: _State,
    units: int,
    work: Callable[[], Awaitable[T]],
    deadline: float,
    *,
    queue: bool = False,
    what: str = "criteria",
) -> T:
    """``work`` run under admission control as ``units`` of ``--max-pending`` (``queue``: wait
    in line rather than 503); the work outlives a request that times out."""
    engine = state.engine
    down = _judge_down(state.breakers(), probing=False)
    if down is not None:
        state.metrics.inc("rejected_total", reason="judge_down")
        raise down
    admission = state.admission
    if not admission.fits(units):
        state.metrics.inc("rejected_total", reason="too_large")
        raise ServerError(
            413,
            f"too_many_{what.replace(' ', '_')}",
            f"request holds {units} {what}; this server admits at most {admission.capacity} at once (--max-pending)",
        )
    admitted = state.queue.try_now(units) if queue else admission.try_acquire(units)
    if not admitted and queue:
        started = time.monotonic()
        try:
            admitted = await asyncio.wait_for(state.queue.acquire(units), deadline)
        except asyncio.TimeoutError:
            state.metrics.inc("rejected_total", reason="deadline")
            raise ServerError(
                504, "deadline_exceeded", f"not admitted within {deadline:g}s (server saturated)"
            ) from None
        deadline = max(0.001, deadline - (time.monotonic() - started))
    if not admitted:
        state.metrics.inc("rejected_total", reason="queue_full")
        wait = admission.retry_after(units)
        raise ServerError(
            503,
            "overloaded",
            f"{admission.pending} criteria pending; retry in {wait}s",
            headers={"Retry-After": str(wait)},
        )
    task: asyncio.Future[T] = asyncio.ensure_future(work())
    state.tasks.add(task)

    def finished(done: asyncio.Future[T]) -> None:
        state.tasks.discard(done)
        admission.release(units)
        state.queue.wake()
        if not done.cancelled() and done.exception() is not None:
            logger.error("admitted work failed: %r", done.exception())

    task.add_done_callback(finished)
    try:
        return await asyncio.wait_for(asyncio.shield(task), deadline)
    except asyncio.TimeoutError:
        state.metrics.inc("rejected_total", reason="deadline")
        later = (
            "judgments continue and are cached: the same request later is served from the cache"
            if engine.grader.store is not None
            else "judgments continue, but nothing is cached (--no-cache)"
        )
        raise ServerError(
            504, "deadline_exceeded", f"rewards not ready within {deadline:g}s; {later}"
        ) from None


def _refuse_when_judge_down(state: _State) -> None:
    """When nothing was judged because the judge is down, say so (503) rather than hand back
    fallback rewards that look like grades."""
    down = _judge_down(state.breakers(), probing=True)
    if down is not None:
        state.metrics.inc("rejected_total", reason="judge_down")
        raise down


async def _grade(
    state: _State, samples: Sequence[Sample], deadline: float, *, queue: bool = False
) -> list[SampleResult]:
    """Grade under admission control, one unit per criterion."""
    engine = state.engine
    units = sum(len(s.rubric.criteria) for s in samples)
    results = await _admitted(state, units, partial(engine.grade, samples), deadline, queue=queue)
    state.metrics.inc("samples_total", len(results))
    state.metrics.inc("ungradable_samples_total", sum(1 for r in results if r.score is None))
    if all(v.verdict == "error" for r in results for v in r.verdicts):
        _refuse_when_judge_down(state)
    return results


def _gold_logs(outcomes: Sequence[RewardOutcome]) -> dict[str, list[float]]:
    """Each sample's gold grade as finite floats (0.0 where none; ``gold_monitored`` tells)."""
    return {
        "gold_monitored": [1.0 if o.monitored else 0.0 for o in outcomes],
        "gold_score": [0.0 if o.gold is None else o.gold for o in outcomes],
        "gold_diff": [0.0 if o.gold_diff is None else o.gold_diff for o in outcomes],
    }


Handler = Callable[[Request, _State], Awaitable[Response]]


def _refuse_when_full(state: _State, *, queue: bool) -> None:
    """503 before the body is read or parsed when nothing more can be admitted anyway
    (for ``queue`` endpoints: when their waiting line is full too)."""
    admission = state.admission
    line_full = state.queue.queued >= state.queue.capacity if queue else True
    if admission.pending >= admission.capacity and line_full:
        state.metrics.inc("rejected_total", reason="queue_full")
        wait = admission.retry_after(1)
        raise ServerError(
            503,
            "overloaded",
            f"{admission.pending} criteria pending; retry in {wait}s",
            headers={"Retry-After": str(wait)},
        )


async def _parsed_body(
    request: Request, state: _State, build: Callable[[Any], T], *, queue: bool = False
) -> T:
    """Admission first, then the intake pace (``Intake``), then the size-limited body, then
    JSON and ``build``: in a worker thread for a body over ``INLINE_PARSE_BYTES`` (a large
    body never holds the event loop, ``/healthz`` stays prompt), on the loop for a smaller one."""
    _refuse_when_full(state, queue=queue)
    await state.intake.enter()
    body = await read_body(request, state.settings.max_body_bytes)
    if len(body) <= INLINE_PARSE_BYTES:
        return build(decode_json(body))
    return await asyncio.to_thread(lambda: build(decode_json(body)))


def create_app(
    settings: ServerSettings | None = None,
    *,
    engine: RewardEngine | None = None,
    book: RubricBook | None = None,
) -> FastAPI:
    """The FastAPI application. Without ``engine`` it builds one from ``settings`` at start-up
    (and closes it at shutdown); a given engine stays the caller's to close."""
    settings = settings or ServerSettings()
    refuse_group_normalization(settings.shaping)
    if book is None:
        book = RubricBook.load(settings.rubrics) if settings.rubrics is not None else RubricBook({})
    state = _State(settings, engine, book)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = state.engine_or_none is None
        if owned:
            state.engine_or_none = RewardEngine.from_settings(
                settings.judge, settings.shaping, settings.monitoring
            )
        logger.info("reward server ready: judge %s", state.engine.judge.fingerprint)
        restore_gc = relax_gc()
        try:
            yield
        finally:
            restore_gc()
            if state.tasks:  # let admitted work finish (it fills the cache), but not forever
                _, late = await asyncio.wait(list(state.tasks), timeout=SHUTDOWN_GRACE_S)
                for task in late:
                    task.cancel()
                await asyncio.gather(*late, return_exceptions=True)
            if owned and state.engine_or_none is not None:
                await state.engine_or_none.aclose()

    # The generated docs routes would answer without the API key: off, or added below behind it.
    app = FastAPI(
        title="rubricate reward server",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.rubricate = state
    app.add_middleware(RefuseAmbiguousFraming)

    def route(
        name: str, handler: Handler, *, auth: bool = True
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            start = time.perf_counter()
            state.in_flight += 1
            try:
                if auth and not _authorized(request, settings.api_key):
                    raise ServerError(
                        401,
                        "unauthorized",
                        "missing or wrong bearer token",
                        headers={"WWW-Authenticate": "Bearer"},
                    )
                response = await handler(request, state)
            except ServerError as error:
                response = JSONResponse(
                    error.body(), status_code=error.status, headers=error.headers
                )
            except Exception:
                logger.exception("%s failed", name)
                response = JSONResponse(
                    {"error": {"code": "internal", "message": "internal error"}}, status_code=500
                )
            finally:
                state.in_flight -= 1
            state.metrics.inc("requests_total", endpoint=name, status=str(response.status_code))
            state.metrics.observe(
                "request_duration_seconds", time.perf_counter() - start, endpoint=name
            )
            return response

        endpoint.__name__ = name.strip("/").replace("/", "_") or "root"
        return endpoint

    async def get_reward(request: Request, state: _State) -> Response:
        samples = await _parsed_body(
            request,
            state,
            lambda data: openrlhf_samples(validate(GetRewardRequest, data), state.book),
            queue=True,
        )
        deadline = _deadline(request, settings.deadline_s)
        results = await _grade(state, samples, deadline, queue=True)
        outcomes = await state.watch(samples, state.engine.shape(results))
        reply = openrlhf_reply(outcomes, settings.shaping)
        reply["extra_logs"].update(_gold_logs(outcomes))
        return JSONResponse(reply)

    async def grade(request: Request, state: _State) -> Response:
        samples, _ = await _parsed_body(
            request, state, lambda data: native_samples(validate(SamplesRequest, data), state.book)
        )
        results = await _grade(state, samples, _deadline(request, settings.deadline_s))
        return JSONResponse({"results": [r.model_dump(mode="json") for r in results]})

    async def reward(request: Request, state: _State) -> Response:
        def build(data: Any) -> tuple[SamplesRequest, list[Sample], list[str]]:
            body = validate(SamplesRequest, data)
            samples, groups = native_samples(body, state.book)
            return body, samples, groups

        body, samples, groups = await _parsed_body(request, state, build)
        results = await _grade(state, samples, _deadline(request, settings.deadline_s))
        outcomes = await state.watch(samples, state.engine.shape(results))
        # normalization over the request's own groups, the one place a whole group arrives
        shaping = replace(settings.shaping, normalize=body.normalize)
        rewards = shape_scores([r.score for r in results], shaping, groups)
        return JSONResponse(
            {
                "rewards": rewards,
                "scores": [o.result.score for o in outcomes],
                "axes": [o.result.axes for o in outcomes],
                "gate_failed": [o.result.gate_failed for o in outcomes],
                "n_errors": [o.n_errors for o in outcomes],
                "gold": [o.gold for o in outcomes],
            }
        )

    async def verify(request: Request, state: _State) -> Response:
        def build(data: Any) -> tuple[VerifyRequest, Sample]:
            body = validate(VerifyRequest, data)
            return body, verify_sample(body, state.book)

        body, sample = await _parsed_body(request, state, build, queue=True)
        results = await _grade(state, [sample], _deadline(request, settings.deadline_s), queue=True)
        (outcome,) = await state.watch([sample], state.engine.shape(results))
        reply = verify_reply(body, outcome, settings.shaping, settings.axis_fill)
        # top-level numbers, the only ones NeMo Gym's metrics read
        reply.update({k: v[0] for k, v in _gold_logs([outcome]).items()})
        return JSONResponse(reply)

    async def aggregate(request: Request, state: _State) -> Response:
        body = await _parsed_body(
            request, state, lambda data: validate(AggregateMetricsRequest, data)
        )
        return JSONResponse(aggregate_metrics(body.verify_responses))

    async def play_groups(request: Request, state: _State) -> Response:
        plan = await _parsed_body(
            request,
            state,
            partial(
                plan_tournaments,
                book=state.book,
                max_group=settings.tournament_max_group,
                default_opponents=settings.tournament_opponents,
            ),
        )
        engine = state.engine
        options = engine.session.options  # a local judge's concurrency is 1, as for grading
        play = partial(
            play_tournaments,
            plan,
            engine.grader.jury or engine.judge,
            engine.store,
            options.concurrency,
            options.reasks,
            state.metrics,
        )
        deadline = _deadline(request, settings.deadline_s)
        outcomes = await _admitted(state, plan.calls_planned, play, deadline, what="judge calls")
        if nothing_decided(outcomes):
            _refuse_when_judge_down(state)
        return JSONResponse(
            tournament_reply(plan, outcomes, (engine.grader.jury or engine.judge).fingerprint)
        )

    async def healthz(request: Request, state: _State) -> Response:
        ready = state.engine_or_none is not None
        body: dict[str, Any] = {"status": "ok" if ready else "starting", "version": __version__}
        if ready:
            body["judge"] = state.engine.judge.fingerprint
            # The server answers either way (200); ``judge_state`` says whether grading can.
            found = state.breakers()
            body["judge_state"] = _judge_state(found)
            body["breakers"] = [
                {
                    "judge": b.judge,
                    "state": b.state,
                    "retry_in_s": round(b.retry_in_s, 3),
                    "consecutive_failures": b.consecutive_failures,
                    "times_opened": b.times_opened,
                    "refused_calls": b.refused_calls,
                    "last_failure": b.last_failure,
                }
                for b in found
            ]
        body["queue"] = {"pending": state.admission.pending, "capacity": state.admission.capacity}
        return JSONResponse(body, status_code=200 if ready else 503)

    async def metrics(request: Request, state: _State) -> Response:
        return PlainTextResponse(state.metrics.render(), media_type="text/plain; version=0.0.4")

    app.add_api_route("/get_reward", route("/get_reward", get_reward), methods=["POST"])
    app.add_api_route("/v1/grade", route("/v1/grade", grade), methods=["POST"])
    app.add_api_route("/v1/reward", route("/v1/reward", reward), methods=["POST"])
    app.add_api_route("/v1/tournament", route("/v1/tournament", play_groups), methods=["POST"])
    app.add_api_route("/verify", route("/verify", verify), methods=["POST"])
    app.add_api_route(
        "/aggregate_metrics", route("/aggregate_metrics", aggregate), methods=["POST"]
    )
    app.add_api_route("/healthz", route("/healthz", healthz, auth=False), methods=["GET"])
    app.add_api_route("/metrics", route("/metrics", metrics), methods=["GET"])
    if settings.docs:

        async def openapi(request: Request, state: _State) -> Response:
            return JSONResponse(app.openapi())

        async def docs(request: Request, state: _State) -> Response:
            return get_swagger_ui_html(openapi_url="/openapi.json", title=app.title)

        app.add_api_route("/openapi.json", route("/openapi.json", openapi), methods=["GET"])
        app.add_api_route("/docs", route("/docs", docs), methods=["GET"])
    return app
