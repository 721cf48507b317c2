"""Several servers of one judge model behind one ``Judge``: least-outstanding routing and ejection."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from rubricate.backends._compose import Resilient, resilient
from rubricate.backends._protocol import Judge, JudgeBase, close_judge
from rubricate.backends._retry import SleepFn, backoff_delay
from rubricate.backends.openai import OpenAIJudge
from rubricate.errors import BackendError, ConfigError, JudgeDown
from rubricate.types import JudgeReply, JudgeRequest

__all__ = ["POOL_MEMBER_RETRIES", "JudgePool", "MemberState", "create_openai_judge"]

logger = logging.getLogger(__name__)

# Each pool member retries once on its own (a blip, or a 429 whose Retry-After it honours);
# anything longer is better spent on another server.
POOL_MEMBER_RETRIES = 1

# Statuses that say the request itself is wrong: every member would answer alike, so the pool
# neither fails over nor holds them against the member.
_REQUEST_FAULTS = frozenset({400, 413, 422})


@dataclass(frozen=True, slots=True)
class MemberState:
    """One member as seen by the pool at a moment."""

    index: int
    outstanding: int
    consecutive_failures: int
    ejected_for_s: float  # seconds until it is routed to again; 0 when in rotation


@dataclass(slots=True)
class _Member:
    judge: Judge
    outstanding: int = 0
    failures: int = 0
    ejected_until: float = 0.0


class JudgePool(JudgeBase):
    """Routes each call to the member with the fewest calls in flight (ties: round robin).

    A member failing ``eject_after`` calls in a row (after its own retries) leaves the rotation
    for ``eject_seconds``; the call moves on to another member, up to ``max_attempts`` members
    in all (default: each member once, plus one). When every member is ejected, the one whose
    ejection ends soonest is used rather than failing outright. Going back to a member that
    already failed this call waits a jittered backoff first.

    All members must have the same fingerprint: a pool serves one model with one set of
    sampling settings, so its cache entries stay valid whichever member answered.
    """

    def __init__(
        self,
        judges: Sequence[Judge],
        *,
        eject_after: int = 3,
        eject_seconds: float = 30.0,
        max_attempts: int | None = None,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: SleepFn = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if not judges:
            raise ConfigError("a judge pool needs at least one judge")
        fingerprints = sorted({judge.fingerprint for judge in judges})
        if len(fingerprints) > 1:
            raise ConfigError(
                "a judge pool must serve one model with one set of sampling settings; "
                f"members have fingerprints {fingerprints}"
            )
        if eject_after < 1:
            raise ConfigError(f"eject_after must be >= 1, got {eject_after}")
        if max_attempts is not None and max_attempts < 1:
            raise ConfigError(f"max_attempts must be >= 1, got {max_attempts}")
        self.fingerprint: str = fingerprints[0]
        self.eject_after = eject_after
        self.eject_seconds = eject_seconds
        self.max_attempts = max_attempts if max_attempts is not None else len(judges) + 1
        self._members = [_Member(judge) for judge in judges]
        self._cursor = 0
        self._backoff = (backoff_base, backoff_max)
        self._clock = clock
        self._sleep = sleep
        self._rng = rng

    def __repr__(self) -> str:
        return f"JudgePool({[m.judge for m in self._members]!r})"

    @property
    def judges(self) -> tuple[Judge, ...]:
        return tuple(m.judge for m in self._members)

    def snapshot(self) -> list[MemberState]:
        """The members' load and health now (for logs and progress displays)."""
        now = self._clock()
        return [
            MemberState(i, m.outstanding, m.failures, max(0.0, m.ejected_until - now))
            for i, m in enumerate(self._members)
        ]

    async def complete(self, request: JudgeRequest) -> JudgeReply:
        """Answer ``request`` on the least busy healthy member, failing over on errors."""
        tried: set[int] = set()
        down: set[int] = set()  # members whose circuit breaker refused this call
        last_error: BackendError | None = None
        for attempt in range(self.max_attempts):
            if len(down) == len(self._members) and last_error is not None:
                raise JudgeDown(
                    f"judge down: every member of the pool is down (last: {last_error})",
                    retry_after=last_error.retry_after,
                ) from last_error
            index = self._pick(tried)
            if index in tried and last_error is not None:
                base, cap = self._backoff
                await self._sleep(
                    backoff_delay(
                        attempt - 1, last_error, base_delay=base, max_delay=cap, rng=self._rng
                    )
                )
            tried.add(index)
            member = self._members[index]
            member.outstanding += 1
            try:
                reply = await member.judge.complete(request)
            except BackendError as error:
                if error.status in _REQUEST_FAULTS:
                    raise
                last_error = error
                if isinstance(error, JudgeDown):
                    down.add(index)
                self._record_failure(index, error)
                continue
            finally:
                member.outstanding -= 1
            member.failures = 0
            member.ejected_until = 0.0
            return reply
        if last_error is None:  # unreachable: max_attempts >= 1 and only errors loop
            raise BackendError("judge pool made no attempt")
        raise last_error

    async def aclose(self) -> None:
        """Close every member."""
        await asyncio.gather(*(close_judge(m.judge) for m in self._members))

    def _record_failure(self, index: int, error: BackendError) -> None:
        member = self._members[index]
        member.failures += 1
        now = self._clock()
        if member.failures >= self.eject_after:
            was_out = member.ejected_until > now
            member.ejected_until = now + self.eject_seconds
            if was_out:  # calls that were in flight when it left: no news
                return
            logger.warning(
                "judge pool: member %d (%r) ejected for %.0fs after %d failures in a row: %s",
                index,
                member.judge,
                self.eject_seconds,
                member.failures,
                error,
            )
        else:
            logger.info("judge pool: member %d failed (%s); failing over", index, error)

    def _pick(self, tried: set[int]) -> int:
        now = self._clock()
        every = range(len(self._members))
        healthy = [i for i in every if self._members[i].ejected_until <= now]
        candidates = [i for i in healthy if i not in tried] or healthy
        if not candidates:
            # Everyone is ejected: the member closest to its return is the best bet.
            untried = [i for i in every if i not in tried] or list(every)
            return min(untried, key=lambda i: self._members[i].ejected_until)
        fewest = min(self._members[i].outstanding for i in candidates)
        least_busy = {i for i in candidates if self._members[i].outstanding == fewest}
        count = len(self._members)
        for step in range(count):
            index = (self._cursor + step) % count
            if index in least_busy:
                self._cursor = (index + 1) % count
                return index
        raise AssertionError("unreachable: least_busy is a non-empty subset of the members")


def create_openai_judge(
    urls: str | Sequence[str],
    model: str,
    *,
    api_key: str | None = None,
    temperature: float = 0.0,
    seed: int | None = None,
    extra_body: Mapping[str, Any] | None = None,
    timeout: float = 60.0,
    max_retries: int = 5,
    concurrency: int = 16,
    rpm: float | None = None,
    tpm: float | None = None,
    hedge_after: float | None = None,
    breaker_failures: int | None = 10,
    breaker_cooldown: float = 10.0,
    backoff_base: float = 0.5,
    backoff_max: float = 30.0,
    eject_after: int = 3,
    eject_seconds: float = 30.0,
    transport: httpx.AsyncBaseTransport | None = None,
    sleep: SleepFn = asyncio.sleep,
    rng: random.Random | None = None,
) -> Resilient | JudgePool:
    """An ``OpenAIJudge`` per URL inside ``resilient``'s wrappers; a ``JudgePool`` of them for several.

    ``concurrency``, ``rpm``, ``tpm`` and ``hedge_after`` apply per server (a pool is meant
    for self-hosted replicas, each with its own capacity); see ``resilient`` and
    ``OpenAIJudge`` for the rest. Each server has its own circuit breaker
    (``breaker_failures`` outages in a row open it; ``None`` for none). With several URLs each member retries only
    ``POOL_MEMBER_RETRIES`` time(s), so that failures move to another server quickly, and
    the pool tries up to ``max(len(urls), max_retries + 1)`` members per call, so it never
    gives up sooner than a single judge would.
    """
    url_list = [urls] if isinstance(urls, str) else list(urls)
    if not url_list:
        raise ConfigError("at least one judge URL is required")
    if max_retries < 0:
        raise ConfigError(f"max_retries must be >= 0, got {max_retries}")
    if concurrency < 1:
        raise ConfigError(f"concurrency must be >= 1, got {concurrency}")

    def member(url: str, retries: int) -> Resilient:
        provider = OpenAIJudge(
            base_url=url,
            model=model,
            api_key=api_key,
            temperature=temperature,
            seed=seed,
            extra_body=extra_body,
            timeout=timeout,
            connections=concurrency,
            transport=transport,
        )
        return resilient(
            provider,
            max_retries=retries,
            concurrency=concurrency,
            rpm=rpm,
            tpm=tpm,
            hedge_after=hedge_after,
            breaker_failures=breaker_failures,
            breaker_cooldown=breaker_cooldown,
            backoff_base=backoff_base,
            backoff_max=backoff_max,
            sleep=sleep,
            rng=rng,
        )

    if len(url_list) == 1:
        return member(url_list[0], max_retries)
    return JudgePool(
        [member(url, POOL_MEMBER_RETRIES) for url in url_list],
        eject_after=eject_after,
        eject_seconds=eject_seconds,
        max_attempts=max(len(url_list), max_retries + 1),
        backoff_base=backoff_base,
        backoff_max=backoff_max,
        sleep=sleep,
        rng=rng,
    )
