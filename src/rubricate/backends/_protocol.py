"""The one extension point for judges."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from rubricate.types import JudgeReply, JudgeRequest


@runtime_checkable
class Judge(Protocol):
    """Anything that answers judge requests.

    ``fingerprint`` identifies backend, model and sampling settings; it is part of every
    cache key, so two judges with equal fingerprints must answer alike.
    """

    fingerprint: str

    async def complete(self, request: JudgeRequest) -> JudgeReply: ...

    async def aclose(self) -> None: ...
