"""Evidence and constrained replies through the grading engine.

Unit tests with a scripted judge; the integration tests go through the loopback judge
server over HTTP and check what reaches the wire.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

import rubricate
from rubricate.backends.pool import create_openai_judge
from rubricate.backends.scripted import ScriptedJudge, criteria_in
from rubricate.rubric import Criterion, Rubric
from rubricate.types import JudgeRequest, Message, Sample
from tests.support.judge_server import JudgeServer

RESPONSE = "Take 200-400 mg of ibuprofen every six hours. Never give aspirin to a child."
# What each criterion's judge answer quotes: found, invented, none; the pitfall is met unquoted.
QUOTES = {
    "quoted": ["take 200-400 MG of ibuprofen   every six hours"],
    "invented": ["Take paracetamol at night."],
    "silent": [],
    "pitfall": [],
}


def sample(sample_id: str = "s1") -> Sample:
    criteria = (
        Criterion(id="quoted", text="Gives the adult dose.", points=5),
        Criterion(id="invented", text="Mentions paracetamol.", points=3),
        Criterion(id="silent", text="Warns about aspirin for children.", points=2),
        Criterion(id="pitfall", text="Recommends a dangerous dose.", points=-4),
    )
    return Sample(
        sample_id,
        (Message("user", "How much ibuprofen? Take paracetamol at night?"),),
        Rubric(id=sample_id, criteria=criteria),
        RESPONSE,
    )


def evidence_reply(request: JudgeRequest) -> str:
    ids = [cid for cid, _ in criteria_in(request) if cid in request.criterion_ids]
    if len(ids) == 1:
        return json.dumps({"evidence": QUOTES[ids[0]], "verdict": "met"})
    return json.dumps({"verdicts": {i: {"evidence": QUOTES[i], "verdict": "met"} for i in ids}})


def records(result: rubricate.GradeResult) -> dict[str, Any]:
    return {v.criterion_id: v for v in result.results[0].verdicts}


def test_evidence_on_keeps_quotes_and_counts_support(tmp_path) -> None:
    judge = ScriptedJudge(reply=evidence_reply)
    result = rubricate.grade([sample()], judge, store=tmp_path / "c.sqlite", evidence="on")
    by_id = records(result)
    assert [(q.quote, q.found) for q in by_id["quoted"].evidence] == [(QUOTES["quoted"][0], True)]
    assert [q.found for q in by_id["invented"].evidence] == [False]
    assert by_id["silent"].evidence == []
    assert all(v.verdict == "met" and v.judged is None for v in by_id.values())
    counts = result.summary.counts
    # The pitfall's met counts as missing too: the summary shows every unsupported met.
    assert (counts.evidence_verified, counts.evidence_unverified, counts.evidence_missing) == (
        1,
        1,
        2,
    )
    assert result.results[0].score == pytest.approx((5 + 3 + 2 - 4) / 10)


def test_strict_evidence_drops_unsupported_mets_but_not_a_met_pitfall() -> None:
    result = rubricate.grade([sample()], ScriptedJudge(reply=evidence_reply), evidence="strict")
    by_id = records(result)
    assert {k: v.verdict for k, v in by_id.items()} == {
        "quoted": "met",
        "invented": "not_met",
        "silent": "not_met",
        "pitfall": "met",
    }
    assert by_id["invented"].judged == "met" and by_id["quoted"].judged is None
    assert result.results[0].score == pytest.approx((5 - 4) / 10)


def test_evidence_comes_back_from_the_cache_and_is_checked_again(tmp_path) -> None:
    store = tmp_path / "c.sqlite"
    first = rubricate.grade(
        [sample()], ScriptedJudge(reply=evidence_reply), store=store, evidence="on"
    )
    again_judge = ScriptedJudge(reply=evidence_reply)
    again = rubricate.grade([sample()], again_judge, store=store, evidence="strict")
    # on and strict ask the same prompt: strict re-reads the cached quotes without a call.
    assert again_judge.calls == 0
    assert [q.model_dump() for q in records(again)["quoted"].evidence] == [
        q.model_dump() for q in records(first)["quoted"].evidence
    ]
    assert records(again)["invented"].verdict == "not_met"
    assert again.summary.counts.evidence_verified == first.summary.counts.evidence_verified == 1


def test_evidence_and_constraint_each_change_the_cache_key(tmp_path) -> None:
    store = tmp_path / "c.sqlite"
    calls = []
    for options in ({}, {"evidence": "on"}, {"constrain": "json_schema"}, {}):
        judge = ScriptedJudge(reply=evidence_reply)
        rubricate.grade([sample()], judge, store=store, **options)
        calls.append(judge.calls)
    assert calls == [4, 4, 4, 0]


def test_every_request_carries_its_schema_when_constrained() -> None:
    seen: list[JudgeRequest] = []

    def reply(request: JudgeRequest) -> str:
        seen.append(request)
        return evidence_reply(request)

    rubricate.grade(
        [sample()],
        ScriptedJudge(reply=reply),
        mode="grouped",
        group_size=3,
        evidence="on",
        constrain="json_schema",
    )
    groups = sorted(
        json.loads(r.reply_schema or "{}")
        .get("properties", {})
        .get("verdicts", {})
        .get("required", list(r.criterion_ids))
        for r in seen
    )
    assert groups == [["pitfall"], ["quoted", "invented", "silent"]]


# --- over HTTP --------------------------------------------------------------------------


def honour_schema(body: dict[str, Any]) -> str:
    """A server with structured outputs: answers in the schema's shape, quoting the response."""
    schema = body["response_format"]["json_schema"]["schema"]
    quote = "every six hours"
    if "verdicts" in schema["properties"]:
        ids = schema["properties"]["verdicts"]["required"]
        return json.dumps({"verdicts": {i: {"evidence": [quote], "verdict": "met"} for i in ids}})
    return json.dumps({"evidence": [quote], "verdict": "met"})


async def _grade_over_http(server: JudgeServer, **options: Any) -> rubricate.GradeResult:
    judge = create_openai_judge(server.url, "stub", max_retries=0)
    try:
        return await rubricate.grade_async([sample()], judge, **options)
    finally:
        await judge.aclose()


def test_response_format_reaches_the_server_with_the_asked_ids() -> None:
    with JudgeServer(respond=honour_schema) as server:
        result = asyncio.run(
            _grade_over_http(
                server, mode="grouped", group_size=4, evidence="strict", constrain="json_schema"
            )
        )
        bodies = server.log
    assert len(bodies) == 1
    response_format = bodies[0]["response_format"]
    assert response_format["type"] == "json_schema"
    verdicts = response_format["json_schema"]["schema"]["properties"]["verdicts"]
    assert verdicts["required"] == ["quoted", "invented", "silent", "pitfall"]
    assert verdicts["properties"]["quoted"]["required"] == ["evidence", "verdict"]
    assert {v.verdict for v in result.results[0].verdicts} == {"met"}
    assert result.summary.counts.evidence_verified == 4


def test_no_response_format_without_constraint() -> None:
    with JudgeServer() as server:
        asyncio.run(_grade_over_http(server))
        assert server.log and all("response_format" not in body for body in server.log)
