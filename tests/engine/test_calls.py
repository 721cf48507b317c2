"""The cached-call engine: cache, in-flight dedup, slots, bounded re-asks, token accounting."""

from __future__ import annotations

import asyncio

import pytest

import rubricate
from rubricate.backends.scripted import ScriptedJudge
from rubricate.engine import CallEngine, PolicySampler, Reask, TextCache
from rubricate.errors import BackendError
from rubricate.store import Store
from rubricate.types import JudgeReply, JudgeRequest, Message, Usage
from tests.helpers import make_sample

REQUEST = JudgeRequest(messages=(Message("user", "hello"),), criterion_ids=())


class Gate:
    """A judge that holds every call until released, counting how many are on the wire."""

    fingerprint = "gate"

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.on_wire = 0
        self.most_on_wire = 0
        self.calls = 0

    async def complete(self, request: JudgeRequest) -> JudgeReply:
        self.calls += 1
        self.on_wire += 1
        self.most_on_wire = max(self.most_on_wire, self.on_wire)
        await self.open.wait()
        self.on_wire -= 1
        return JudgeReply(text="answer", usage=Usage(10, 4, 2))

    async def aclose(self) -> None:
        return None


async def test_slots_bound_the_calls_on_the_wire() -> None:
    gate = Gate()
    engine: CallEngine[str] = CallEngine(gate, concurrency=3)
    calls = [asyncio.ensure_future(engine.call(REQUEST)) for _ in range(10)]
    await asyncio.sleep(0.01)
    assert gate.on_wire == 3
    gate.open.set()
    await asyncio.gather(*calls)
    assert gate.most_on_wire == 3 and engine.counts.calls == 10
    assert engine.counts.tokens.prompt == 100 and engine.counts.tokens.cached_prompt == 40


async def test_identical_keys_in_flight_are_asked_once_and_then_cached(tmp_path) -> None:
    gate = Gate()
    with Store(tmp_path / "c.sqlite") as store:
        engine: CallEngine[str] = CallEngine(gate, cache=TextCache(store), group_commit=False)

        async def make() -> str:
            return (await engine.call(REQUEST)).text

        first = [asyncio.ensure_future(engine.once("k", make)) for _ in range(4)]
        await asyncio.sleep(0.01)
        gate.open.set()
        assert await asyncio.gather(*first) == ["answer"] * 4
        assert gate.calls == 1 and engine.counts.deduplicated == 3
        again: CallEngine[str] = CallEngine(gate, cache=TextCache(store))
        assert await again.once("k", make) == "answer"
        assert gate.calls == 1 and again.counts.cache_hits == 1


async def test_a_failed_call_reaches_every_waiter_and_is_counted() -> None:
    class Broken:
        fingerprint = "broken"

        async def complete(self, request: JudgeRequest) -> JudgeReply:
            await asyncio.sleep(0.01)
            raise BackendError("down")

    engine: CallEngine[str] = CallEngine(Broken())

    async def make() -> str:
        return (await engine.call(REQUEST)).text

    outcomes = await asyncio.gather(
        *(engine.once("k", make) for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(o, BackendError) for o in outcomes)
    assert engine.counts.failed_calls == 1 and engine.counts.calls == 0


async def test_reasks_are_bounded_and_tokens_count_even_for_unusable_replies() -> None:
    judge = ScriptedJudge(reply=lambda request: "not what was asked")
    engine: CallEngine[str] = CallEngine(judge, reasks=2)
    seen: list[str] = []

    def read(reply: JudgeReply) -> Reask | None:
        seen.append(reply.text)
        return Reask(REQUEST, items=2)

    await engine.ask(REQUEST, read)
    assert judge.calls == 3 and len(seen) == 3
    counts = engine.counts
    assert counts.unparseable_replies == 3 and counts.reasked == 4
    assert counts.tokens.prompt > 0 and counts.tokens.completion > 0


def test_policy_tokens_are_in_the_summary_beside_the_judges(tmp_path) -> None:
    class Policy:
        fingerprint = "policy"

        async def complete(self, request: JudgeRequest) -> JudgeReply:
            return JudgeReply(text="Sampled answer", usage=Usage(30, 0, 7))

        async def aclose(self) -> None:
            return None

    sample = make_sample("a", [1, 2])
    no_response = rubricate.Sample("a", sample.messages, sample.rubric, None)
    result = rubricate.grade([no_response], ScriptedJudge(), policy=Policy())
    summary = result.summary
    assert summary.policy_tokens.prompt == 30 and summary.policy_tokens.completion == 7
    assert summary.tokens.prompt > 0 and summary.counts.policy_calls == 1
    assert summary.counts.judge_calls == 2


async def test_policy_stage_leaves_given_responses_alone() -> None:
    judge = ScriptedJudge()
    sampler = PolicySampler(judge)
    sample = make_sample("a", [1])
    assert await sampler.respond(sample) is sample and judge.calls == 0


@pytest.mark.parametrize("concurrency", [1, 4])
def test_generation_summary_counts_generator_and_judge_tokens(tmp_path, concurrency) -> None:
    from rubricate.generate import GenerateOptions, GenerationItem, generate_rubrics
    from tests.generate.conftest import criteria_json, scripted

    reply = criteria_json(
        ("States that Paris is the capital of France.", "principle", "essential"),
        ("Answers in exactly one sentence.", "hard_rule", "important"),
    )
    item = GenerationItem(
        id="p1",
        messages=(Message("user", "Name the capital of France in one sentence."),),
        chosen="Paris is the capital of France, in one sentence.",
        rejected="Lyon.",
    )
    result = generate_rubrics(
        [item],
        scripted([reply]),
        strategy="contrastive",
        options=GenerateOptions(concurrency=concurrency),
    )
    stats = result.stats
    assert stats.generator_calls >= 1 and stats.generator_tokens.prompt > 0
    assert stats.judge_calls >= 2 and stats.judge_tokens.prompt > 0
