"""The one extension point for judges, and a base class that fills in the rest."""

from __future__ import annotations

import abc
from typing import Protocol, TypeVar, runtime_checkable

from rubricate.types import JudgeReply, JudgeRequest

__all__ = ["Judge", "JudgeBase", "close_judge"]

_Self = TypeVar("_Self", bound="JudgeBase")


@runtime_checkable
class Judge(Protocol):
    """Anything that answers judge requests: two members.

    ``fingerprint`` identifies backend, model and the judge's own sampling settings; with
    the request's ``sampling()`` it forms every cache key, so two judges with equal
    fingerprints must answer alike. Closing is optional: see ``close_judge``.
    """

    fingerprint: str

    async def complete(self, request: JudgeRequest) -> JudgeReply: ...


class JudgeBase(abc.ABC):
    """A ``Judge`` with one method to write, ``complete``; ``aclose`` does nothing by default.

    Usable as an async context manager that closes the judge on exit. Subclasses set
    ``fingerprint`` in their constructor.
    """

    fingerprint: str

    @abc.abstractmethod
    async def complete(self, request: JudgeRequest) -> JudgeReply:
        """Answer one request; raise ``BackendError`` (with ``retryable``) when the call fails."""

    async def aclose(self) -> None:
        """Release what the judge holds (connections, a model); the default holds nothing."""
        return None

    async def __aenter__(self: _Self) -> _Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


async def close_judge(judge: Judge) -> None:
    """Close any judge: await its ``aclose`` when it has one, else do nothing."""
    aclose = getattr(judge, "aclose", None)
    if aclose is not None:
        await aclose()
