"""Bounded retries with exponential backoff, full jitter and server-requested waits."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import TypeVar

import httpx

from rubricate.errors import BackendError, ConfigError

__all__ = ["SleepFn", "backoff_delay", "http_error", "parse_retry_after", "with_retries"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_RETRYABLE_STATUS = frozenset({408, 409, 425, 429})
# A 429 carrying one of these codes will not clear by waiting.
_FATAL_429_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached"})
SleepFn = Callable[[float], Awaitable[None]]

# Module-level so that unseeded callers still share one generator instead of reseeding per call.
_DEFAULT_RNG = random.Random()


def backoff_delay(
    attempt: int,
    error: BackendError,
    *,
    base_delay: float = 0.5,
    max_delay: float = 30.0,
    max_retry_after: float = 120.0,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before retry number ``attempt + 1`` (``attempt`` counts from 0).

    Full jitter: uniform in ``[0, min(max_delay, base_delay * 2**attempt)]``. When the server
    sent ``retry_after``, wait at least that long, but never more than ``max_retry_after``
    (a server asking for an hour is better answered by failing than by hanging).
    """
    ceiling = min(max_delay, base_delay * (2.0**attempt))
    delay = (rng or _DEFAULT_RNG).uniform(0.0, ceiling)
    if error.retry_after is not None:
        delay = max(delay, min(error.retry_after, max_retry_after))
    return delay


async def with_retries(
    call: Callable[[], Awaitable[T]],
    *,
    max_retries: int,
    base_delay: float = 0.5,
    max_delay: float = 30.0,
    max_retry_after: float = 120.0,
    rng: random.Random | None = None,
    sleep: SleepFn = asyncio.sleep,
    describe: str = "call",
) -> T:
    """Await ``call()`` until it succeeds, retrying retryable ``BackendError``s.

    Args:
        call: makes one attempt; a fresh awaitable each time.
        max_retries: retries after the first attempt (0 = a single attempt).
        base_delay, max_delay, max_retry_after, rng: see ``backoff_delay``.
        sleep: awaited with each delay; inject a recorder in tests.
        describe: names the call in log lines.

    Raises:
        BackendError: the first non-retryable error, or the last error once the budget is spent.
        Any other exception from ``call`` immediately (those are bugs, not outages).
    """
    if max_retries < 0:
        raise ConfigError(f"max_retries must be >= 0, got {max_retries}")
    attempt = 0
    while True:
        try:
            return await call()
        except BackendError as error:
            if not error.retryable or attempt >= max_retries:
                raise
            delay = backoff_delay(
                attempt,
                error,
                base_delay=base_delay,
                max_delay=max_delay,
                max_retry_after=max_retry_after,
                rng=rng,
            )
            logger.debug(
                "%s failed (%s); retry %d/%d in %.2fs",
                describe,
                error,
                attempt + 1,
                max_retries,
                delay,
            )
            attempt += 1
            await sleep(delay)


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait according to ``retry-after-ms`` or ``Retry-After`` (seconds or HTTP-date).

    ``headers`` must look names up case-insensitively (``httpx.Headers`` does). Returns ``None``
    when absent or unreadable; never negative.
    """
    raw_ms = headers.get("retry-after-ms")
    if raw_ms is not None:
        try:
            return max(0.0, float(raw_ms) / 1000.0)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def http_error(response: httpx.Response, *, who: str = "server") -> BackendError:
    """The ``BackendError`` for a non-2xx response, carrying the server's own message.

    408, 409, 425, 429 and 5xx are retryable (with ``Retry-After`` when sent), except a 429
    saying the quota is spent; every other status is not.
    """
    status = response.status_code
    message, code = _error_message(response)
    retryable = status in _RETRYABLE_STATUS or status >= 500
    if status == 429 and code in _FATAL_429_CODES:
        retryable = False
    return BackendError(
        f"{who} answered {status}: {message}",
        retryable=retryable,
        retry_after=parse_retry_after(response.headers) if retryable else None,
        status=status,
    )


def _error_message(response: httpx.Response) -> tuple[str, str | None]:
    """The error text and code from OpenAI- or FastAPI-shaped bodies, else the raw text."""
    try:
        payload = response.json()
    except (ValueError, UnicodeDecodeError):
        return response.text[:500] or response.reason_phrase, None
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict):
            code = error.get("code") or error.get("type")
            return str(error.get("message") or error)[:500], str(code) if code else None
        for key in ("error", "detail", "message"):
            if payload.get(key):
                return str(payload[key])[:500], None
    return response.text[:500], None
