"""A circuit breaker around any judge: a judge that fails every call is found out in a few calls.

Without it, a judge that refuses connections costs each call its whole retry budget
(``(retries + 1)`` attempts and their backoff, or ``(retries + 1) x timeout`` when it hangs),
criterion after criterion. With it, ``failures`` outage failures in a row open the breaker;
while it is open calls fail at once with ``JudgeDown`` (never retried: retrying would meet the
open breaker again). After ``cooldown`` seconds one probe call goes through (half-open): an
answer closes the breaker, another outage reopens it for twice as long (up to
``max_cooldown``).

Only outages count: refused or dropped connections, timeouts and 5xx. A 429, a 4xx or a
malformed 2xx reply says the server is up, and so does any answer. "In a row" means among
calls sent after the last answer arrived: a call sent before it carries older news. Under
concurrency this matters for a flaky judge, whose timeouts all land together, after the
answers sent with them; a judge that is down answers nothing, so every failure counts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

from rubricate.backends._protocol import Judge
from rubricate.backends._wrappers import _Wrapper, layers
from rubricate.errors import BackendError, ConfigError, JudgeDown, MalformedReply
from rubricate.types import JudgeReply, JudgeRequest

__all__ = ["BreakerState", "CircuitBreaker", "breakers", "is_outage"]

logger = logging.getLogger(__name__)

State = Literal["closed", "open", "half_open"]


@dataclass(frozen=True, slots=True)
class BreakerState:
    """A breaker as seen at one moment (for ``/healthz``, logs and tests).

    Attributes:
        state: ``closed`` (calls go through), ``open`` (calls fail fast) or ``half_open``
            (the cooldown is over: the next call is a probe, or one is on the wire).
        judge: the wrapped judge's ``repr``.
        consecutive_failures: outage failures since the last answer.
        retry_in_s: seconds until a probe may go out (0 unless ``open``).
        times_opened: how often the breaker opened so far.
        refused_calls: calls failed fast, unsent, so far.
        last_failure: the last outage's message, when there was one.
    """

    state: State
    judge: str
    consecutive_failures: int
    retry_in_s: float
    times_opened: int
    refused_calls: int
    last_failure: str | None


def is_outage(error: BackendError) -> bool:
    """Whether ``error`` says the judge is not serving: no answer at all, or a 5xx."""
    if isinstance(error, (JudgeDown, MalformedReply)):
        return False
    return error.status is None or error.status >= 500


class CircuitBreaker(_Wrapper):
    """Fails calls of ``inner`` fast once it has failed ``failures`` calls in a row.

    Args:
        inner: any judge.
        failures: outage failures in a row that open the breaker (the default tolerates a
            judge failing 40% of its calls: ten in a row is a 1-in-10,000 run there).
        cooldown: seconds the breaker stays open before a probe call goes out.
        max_cooldown: the longest cooldown after failed probes (each doubles it).
        clock: monotonic seconds; injection point for tests.
    """

    def __init__(
        self,
        inner: Judge,
        *,
        failures: int = 10,
        cooldown: float = 10.0,
        max_cooldown: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failures < 1:
            raise ConfigError(f"breaker failures must be >= 1, got {failures}")
        if not 0 < cooldown <= max_cooldown:
            raise ConfigError(
                f"breaker cooldown must be in (0, max_cooldown={max_cooldown:g}], got {cooldown:g}"
            )
        super().__init__(inner)
        self.failures = failures
        self.cooldown = cooldown
        self.max_cooldown = max_cooldown
        self._clock = clock
        self._state: State = "closed"
        self._streak = 0
        self._open_until = 0.0
        self._wait = cooldown  # the current cooldown: doubled by each failed probe
        self._probing = False
        self._opened = 0
        self._refused = 0
        self._last: str | None = None
        self._sent = 0  # calls let through so far
        self._fresh_from = 0  # calls numbered below this were sent before the last answer

    def snapshot(self) -> BreakerState:
        """The breaker now."""
        retry_in = max(0.0, self._open_until - self._clock()) if self._state == "open" else 0.0
        state: State = "half_open" if self._state == "open" and retry_in == 0.0 else self._state
        return BreakerState(
            state,
            repr(self.inner),
            self._streak,
            retry_in,
            self._opened,
            self._refused,
            self._last,
        )

    async def complete(self, request: JudgeRequest) -> JudgeReply:
        probe = self._admit()
        ticket = self._sent
        self._sent += 1
        try:
            reply = await self.inner.complete(request)
        except BackendError as error:
            if is_outage(error):
                if probe or ticket >= self._fresh_from:
                    self._failed(error, probe)
            else:
                self._answered(probe)  # the server is up, whatever it thought of the request
            raise
        except BaseException:
            if probe:
                self._probing = False  # cancelled: let the next call probe instead
            raise
        self._answered(probe)
        return reply

    def _admit(self) -> bool:
        """Let a call through (``True`` when it is the probe) or raise ``JudgeDown``."""
        if self._state == "closed":
            return False
        now = self._clock()
        if self._state == "open" and now >= self._open_until:
            self._state = "half_open"
        if self._state == "half_open" and not self._probing:
            self._probing = True
            logger.info("circuit breaker: probing %r", self.inner)
            return True
        self._refused += 1
        wait = max(0.0, self._open_until - now)
        when = f"the next probe in {wait:.1f}s" if wait > 0 else "a probe call is on the wire"
        raise JudgeDown(
            f"judge down: {self.inner!r} failed {self._streak} calls in a row "
            f"(last: {self._last}); calls fail fast until a probe answers ({when})",
            retryable=False,
            retry_after=wait or None,
        )

    def _answered(self, probe: bool) -> None:
        self._fresh_from = self._sent
        if self._state != "closed":
            logger.warning("circuit breaker: %r answers again; closed", self.inner)
        self._state = "closed"
        self._streak = 0
        self._wait = self.cooldown
        if probe:
            self._probing = False

    def _failed(self, error: BackendError, probe: bool) -> None:
        self._streak += 1
        self._last = str(error)[:300]
        if probe:
            self._probing = False
            self._wait = min(self.max_cooldown, self._wait * 2)
            self._open(f"probe failed: {error}")
        elif self._state == "closed" and self._streak >= self.failures:
            self._open(f"{self._streak} failures in a row, the last: {error}")

    def _open(self, why: str) -> None:
        self._state = "open"
        self._open_until = self._clock() + self._wait
        self._opened += 1
        logger.warning(
            "circuit breaker: %r is down (%s); calls fail fast for %.0fs, then one probe",
            self.inner,
            why,
            self._wait,
        )


def breakers(judge: Judge) -> Iterator[CircuitBreaker]:
    """Every ``CircuitBreaker`` in ``judge``'s layers, and in its pool members' layers."""
    for layer in layers(judge):
        if isinstance(layer, CircuitBreaker):
            yield layer
        members = getattr(layer, "judges", None)
        if isinstance(members, tuple):
            for member in members:
                yield from breakers(member)
