"""The policy stage: responses for samples that have none, sampled from a policy model.

It runs before grading (``Grader.iter_grade(samples, respond=sampler.respond)``), through
its own ``CallEngine``: a sampled response is cached under the policy's fingerprint, the
conversation and the sample id, so a re-run grades the same response at no cost.
"""

from __future__ import annotations

from rubricate.backends import Judge
from rubricate.engine._calls import CallEngine, TextCache
from rubricate.results import CallCounts, Tokens
from rubricate.store import Store, response_key
from rubricate.types import JudgeRequest, Sample

__all__ = ["PolicySampler"]


class PolicySampler:
    """Writes missing responses with a policy model.

    Args:
        policy: the model that answers the samples' conversations.
        store: caches sampled responses; ``None`` samples again on every run.
        max_tokens: completion budget of one response.
        temperature: sampling temperature asked of the policy.
        concurrency: policy calls on the wire at once.
    """

    def __init__(
        self,
        policy: Judge,
        *,
        store: Store | None = None,
        max_tokens: int = 1024,
        temperature: float = 0.7,
        concurrency: int = 16,
    ) -> None:
        self.policy = policy
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.calls: CallEngine[str] = CallEngine(
            policy,
            cache=TextCache(store) if store is not None else None,
            concurrency=concurrency,
            reasks=0,
            group_commit=False,
        )

    @property
    def counts(self) -> CallCounts:
        return self.calls.counts

    @property
    def tokens(self) -> Tokens:
        return self.calls.counts.tokens

    async def respond(self, sample: Sample) -> Sample:
        """``sample`` with a response (its own, else a cached or newly sampled one)."""
        if sample.response is not None:
            return sample
        key = response_key(self.policy.fingerprint, sample.conversation_hash(), sample.id)
        text = await self.calls.once(key, lambda: self._sample(sample))
        return sample.with_response(text)

    async def _sample(self, sample: Sample) -> str:
        request = JudgeRequest(
            messages=sample.messages,
            criterion_ids=(),
            max_tokens=self.max_tokens,
            temperature=self.temperature,
        )
        reply = await self.calls.call(request)
        return reply.text

    def flush(self) -> None:
        """Write sampled responses to the store now."""
        self.calls.flush()
