"""The cached-call engine under every model call: grading, rubric generation, policy sampling.

One ``CallEngine`` serves one model for one purpose. It owns

- the cache: answers are looked up before any call, and what is decided is written in one
  transaction at the start of the next event-loop turn (group commit);
- in-flight dedup: a key being decided is asked for once, later askers wait for its answer;
- call slots: at most ``concurrency`` calls on the wire; with one slot, the next call is one
  sharing the last call's prompt prefix when one is waiting (``backends.prefix_key``), so a
  server that keeps only the previous prompt's cache reuses it;
- bounded re-asks of replies the caller cannot use (``ask``);
- token accounting: every reply's usage is counted before anyone parses it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from rubricate.backends import Judge, prefix_key
from rubricate.errors import BackendError
from rubricate.results import CallCounts
from rubricate.store import Store
from rubricate.types import JudgeReply, JudgeRequest, Verdict

__all__ = ["Cache", "CallEngine", "Claim", "JudgmentCache", "Reask", "TextCache"]

V = TypeVar("V")


class Cache(Protocol[V]):
    """Where a ``CallEngine`` keeps answers between runs."""

    def get_many(self, keys: Sequence[str]) -> dict[str, V]: ...

    def put_many(self, items: list[tuple[str, V]]) -> None: ...

    def keeps(self, value: V) -> bool:
        """Whether ``value`` may be cached (a failure never is: the next run asks again)."""
        ...


class JudgmentCache:
    """Verdicts in the store's judgment table (errors are never cached).

    With ``replies``, verdicts come back with the reply that decided them (or one marked
    ``not_cached``); the replies of verdicts that carry one are always written.
    """

    def __init__(self, store: Store, *, replies: bool = False) -> None:
        self.store = store
        self.replies = replies

    def get_many(self, keys: Sequence[str]) -> dict[str, Verdict]:
        return self.store.get_judgments(keys, replies=self.replies)

    def put_many(self, items: list[tuple[str, Verdict]]) -> None:
        self.store.put_judgments(items)

    def keeps(self, value: Verdict) -> bool:
        return value.label != "error"


class TextCache:
    """Reply texts (generated criteria, sampled responses) in the store's response table."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def get_many(self, keys: Sequence[str]) -> dict[str, str]:
        found = {}
        for key in keys:
            text = self.store.get_response(key)
            if text is not None:
                found[key] = text
        return found

    def put_many(self, items: list[tuple[str, str]]) -> None:
        for key, text in items:
            self.store.put_response(key, text)

    def keeps(self, value: str) -> bool:
        return True


@dataclass(slots=True)
class Claim(Generic[V]):
    """The outcome of looking keys up (see ``CallEngine.claim``).

    Attributes:
        hits: answers known already (cache, or decided and not yet written).
        waits: futures of keys another caller is deciding right now.
        misses: keys this caller now owns: it must ``settle`` or ``release`` every one.
    """

    hits: dict[str, V] = field(default_factory=dict)
    waits: dict[str, asyncio.Future[V]] = field(default_factory=dict)
    misses: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Reask:
    """What a reader wants after a reply it could not fully use.

    Attributes:
        request: the next request (usually the conversation so far plus a correction).
        items: how much is asked again (criteria for a judge; 1 for a whole reply).
        unparseable: whether the reply was unusable (``False``: usable, but a better one is
            wanted, e.g. after criteria were rejected).
    """

    request: JudgeRequest
    items: int = 1
    unparseable: bool = True


Reader = Callable[[JudgeReply], "Reask | None"]


class CallEngine(Generic[V]):
    """Cached, deduplicated, slotted calls to one model, with every call counted.

    Args:
        model: the judge, policy or generator to call.
        cache: where answers persist; ``None`` keeps nothing between runs (dedup still works).
        concurrency: calls on the wire at once.
        reasks: how many times ``ask`` may ask again after an unusable reply.
        counts: the counters to add to (shared by engines that report as one model).
        group_commit: write answers once per event-loop turn (many cheap answers: verdicts)
            rather than each at once (few costly ones: generated texts, policy responses).
    """

    def __init__(
        self,
        model: Judge,
        *,
        cache: Cache[V] | None = None,
        concurrency: int = 16,
        reasks: int = 2,
        counts: CallCounts | None = None,
        group_commit: bool = True,
    ) -> None:
        self.model = model
        self.group_commit = group_commit
        self.cache = cache
        self.reasks = reasks
        self.counts = counts if counts is not None else CallCounts()
        self._slots = _Slots(concurrency)
        # One call at a time reaches a server whose cache holds the previous prompt only:
        # worth ordering waiting calls by prefix (a hash of the shared text per waiting call).
        self._affinity = concurrency == 1
        # key -> future of an answer being decided; the future is made only when a second
        # caller asks for the same key (most keys are never shared).
        self._inflight: dict[str, asyncio.Future[V] | None] = {}
        # Decided but not yet written: looked up like the cache, so that a caller arriving
        # between a decision and its commit does not ask for it again.
        self._unwritten: dict[str, V] = {}

    # --- cache and in-flight dedup -------------------------------------------------

    def claim(self, keys: Sequence[str]) -> Claim[V]:
        """Split ``keys`` into known answers, answers being decided elsewhere, and misses."""
        claim: Claim[V] = Claim()
        hits = claim.hits
        if self.cache is not None:
            hits.update(self.cache.get_many(keys))
        unwritten, inflight = self._unwritten, self._inflight
        for key in keys:
            if key in hits:
                continue
            if key in unwritten:
                hits[key] = unwritten[key]
            elif key in inflight:
                future = inflight[key]
                if future is None:
                    future = inflight[key] = asyncio.get_running_loop().create_future()
                claim.waits[key] = future
            else:
                inflight[key] = None
                claim.misses.append(key)
        self.counts.cache_hits += len(hits)
        self.counts.deduplicated += len(claim.waits)
        return claim

    def settle(self, decided: Iterable[tuple[str, V]]) -> None:
        """Answers for claimed keys: queued for the cache and handed to anyone waiting."""
        cache, inflight = self.cache, self._inflight
        for key, value in decided:
            if cache is not None and cache.keeps(value):
                if not self.group_commit:
                    cache.put_many([(key, value)])
                else:
                    if not self._unwritten:
                        # Everything decided in this turn of the event loop is written in one
                        # transaction at the start of the next, microseconds later.
                        asyncio.get_running_loop().call_soon(self.flush)
                    self._unwritten[key] = value
            future = inflight.pop(key, None)
            if future is not None and not future.done():
                future.set_result(value)

    def release(self, keys: Iterable[str], error: BaseException) -> None:
        """Give up claimed keys: whoever waits on them gets ``error``."""
        for key in keys:
            future = self._inflight.pop(key, None)
            if future is not None and not future.done():
                future.set_exception(error)
                future.exception()  # mark retrieved: nobody may be waiting

    async def once(self, key: str, make: Callable[[], Awaitable[V]]) -> V:
        """The answer for one ``key``: cached, shared with an identical pending call, or made."""
        claim = self.claim((key,))
        if claim.hits:
            return claim.hits[key]
        if claim.waits:
            return await asyncio.shield(claim.waits[key])
        try:
            value = await make()
        except BaseException as error:
            self.release((key,), error)
            raise
        self.settle(((key, value),))
        return value

    def flush(self) -> None:
        """Write decided answers to the cache (called automatically each loop turn)."""
        if self._unwritten and self.cache is not None:
            pending, self._unwritten = self._unwritten, {}
            self.cache.put_many(list(pending.items()))

    # --- calls ------------------------------------------------------------------

    async def call(self, request: JudgeRequest) -> JudgeReply:
        """One call in a slot; counted, with its tokens, whether or not its reply is usable."""
        slots = self._slots
        if slots.free > 0:  # taken without a coroutine: most calls find a free slot
            slots.free -= 1
        else:
            await slots.wait(prefix_key(request) if self._affinity else None)
        try:
            reply = await self.model.complete(request)
        except BackendError:
            self.counts.failed_calls += 1
            raise
        finally:
            slots.release(prefix_key(request) if self._affinity and slots.waiting else None)
        counts = self.counts
        counts.calls += 1
        counts.tokens.add(reply.usage)
        return reply

    async def ask(
        self,
        request: JudgeRequest,
        read: Reader,
        send: Callable[[JudgeRequest], Awaitable[JudgeReply]] | None = None,
    ) -> None:
        """Send ``request`` and give each reply to ``read`` until it is satisfied (returns
        ``None``) or the re-asks run out. ``send`` defaults to ``call``; a failed call
        raises ``BackendError`` (counted by ``call``)."""
        send = send or self.call
        for attempt in range(self.reasks + 1):
            again = read(await send(request))
            if again is None:
                return
            if again.unparseable:
                self.counts.unparseable_replies += 1
            if attempt == self.reasks:
                return
            self.counts.reasked += again.items
            request = again.request


class _Slots:
    """A counting semaphore whose uncontended take is one integer test (``asyncio.Semaphore``
    runs a coroutine and scans its waiters on every acquire: a tenth of the engine's cost per
    call with a fast judge). Slots are handed to waiters in arrival order, except that a
    release naming a key hands its slot to the first waiter with the same key."""

    __slots__ = ("_waiters", "free")

    def __init__(self, size: int) -> None:
        self.free = size
        self._waiters: deque[tuple[Hashable, asyncio.Future[None]]] = deque()

    @property
    def waiting(self) -> bool:
        return bool(self._waiters)

    async def wait(self, key: Hashable = None) -> None:
        """Take a slot when none was free: wait until ``release`` hands one over."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((key, future))
        try:
            await future
        except BaseException:
            if future.done() and not future.cancelled():
                self.release()  # handed a slot while being cancelled: give it back
            raise

    def release(self, key: Hashable = None) -> None:
        waiters = self._waiters
        if key is not None:
            for index, (waiting, future) in enumerate(waiters):
                if waiting == key and not future.done():
                    del waiters[index]
                    future.set_result(None)
                    return
        while waiters:
            future = waiters.popleft()[1]
            if not future.done():
                future.set_result(None)  # the slot passes straight to the waiter
                return
        self.free += 1
