"""The rubric-first layout: responses to one prompt and rubric share the prompt prefix."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re

import pytest

import rubricate
from rubricate.backends import prefix_key
from rubricate.backends.scripted import ScriptedJudge, criteria_in
from rubricate.engine import GradeOptions
from rubricate.errors import ConfigError
from rubricate.judge import (
    build_rubric_first_request,
    load_template,
    parse_group_reply,
    render_conversation,
    render_response,
    reply_schema,
)
from rubricate.rubric import Criterion, Rubric
from rubricate.settings import JudgeSettings, Settings
from rubricate.types import JudgeReply, JudgeRequest, Message, Sample

WORDS = ("fever", "doctor", "water", "rest", "dose", "child")
RUBRIC = Rubric(
    id="r",
    criteria=tuple(
        Criterion(id=f"c{i}", text=f"Mentions {word}.", points=1 + i)
        for i, word in enumerate(WORDS)
    ),
)
RESPONSES = (
    "Rest and drink water; see a doctor if the fever lasts.",
    "Drink water.",
    "A child needs a smaller dose.",
    "See a doctor.",
    "Rest.",
    "Fever, doctor, water, rest, dose, child: all of them.",
    "Nothing useful.",
    "Keep the child at rest with water.",
)


def group() -> list[Sample]:
    messages = (Message("user", "My child has a fever. What should I do?"),)
    return [Sample(f"s{i}", messages, RUBRIC, text) for i, text in enumerate(RESPONSES)]


ASK = "Decide every criterion above for this final response; reply with the JSON object only.\n"
_RESPONSE = re.compile(r"<(response-[0-9a-f]+)>\n(.*?)\n</\1>", re.DOTALL)


def by_content(request: JudgeRequest) -> str:
    """A judge that decides from what it is shown: met when the response names the criterion's word."""
    response = _RESPONSE.search(request.messages[1].content)
    assert response is not None
    text = response.group(2).lower()
    asked = [(i, t) for i, t in criteria_in(request) if i in request.criterion_ids]
    verdicts = [
        {"id": i, "verdict": "met" if t.split()[-1].rstrip(".") in text else "not_met"}
        for i, t in asked
    ]
    return json.dumps({"verdicts": verdicts})


class WireJudge(ScriptedJudge):
    """A scripted judge that yields to the event loop like a call on the wire, so that
    other calls queue for the slot meanwhile."""

    async def complete(self, request: JudgeRequest) -> JudgeReply:
        await asyncio.sleep(0)
        return await super().complete(request)


def labels(result: rubricate.GradeResult) -> list[list[tuple[str, str]]]:
    return [[(v.criterion_id, v.verdict) for v in r.verdicts] for r in result.results]


def test_every_response_of_a_group_shares_everything_before_the_response() -> None:
    template = load_template("grouped", layout="rubric-first")
    first, second = group()[:2]
    chunk = RUBRIC.criteria[:3]
    requests = [
        build_rubric_first_request(
            template, render_conversation(s), render_response(s, intro=False), chunk, max_tokens=64
        )
        for s in (first, second)
    ]
    a, b = (r.messages[1].content for r in requests)
    common = next(i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y)
    head = a[: requests[0].shared_prefix_chars]
    # The common text covers the conversation and every criterion, and ends where the
    # response's delimiter starts (a code derived from the response).
    assert requests[0].shared_prefix_chars == requests[1].shared_prefix_chars
    assert b.startswith(head) and common >= len(head)
    assert common < len(head) + len("<response-") + 16
    assert a[len(head) :].startswith("<response-")
    assert render_conversation(first) in head and all(c.text in head for c in chunk)
    assert RESPONSES[0] not in head
    assert requests[0].messages[0] == requests[1].messages[0]
    assert prefix_key(requests[0]) == prefix_key(requests[1])
    # After the response, only the request to answer.
    assert a.endswith(f"{RESPONSES[0]}\n</{a[len(head) + 1 : len(head) + 26]}>\n\n" + ASK)


def test_rubric_first_gives_the_same_verdicts_as_response_first() -> None:
    before = rubricate.grade(group(), ScriptedJudge(reply=by_content), mode="grouped")
    after = rubricate.grade(
        group(), ScriptedJudge(reply=by_content), mode="grouped", layout="rubric-first"
    )
    assert labels(after) == labels(before)
    assert [r.score for r in after.results] == [r.score for r in before.results]
    assert [r.sample_id for r in after.results] == [s.id for s in group()]
    assert after.results[0].template.startswith("rubric_first_v1@")
    assert labels(before)[1] == [(f"c{i}", "met" if i == 2 else "not_met") for i in range(6)]


def test_a_groups_calls_on_one_chunk_go_back_to_back_one_at_a_time() -> None:
    seen: list[JudgeRequest] = []

    def reply(request: JudgeRequest) -> str:
        seen.append(request)
        return by_content(request)

    result = rubricate.grade(
        group(),
        WireJudge(reply=reply),
        mode="grouped",
        group_size=2,
        layout="rubric-first",
        concurrency=1,
    )
    assert len(seen) == 3 * len(RESPONSES)
    chunks = [r.criterion_ids for r in seen]
    # Three chunks, each asked for all eight responses in a row: the prefix changes twice.
    assert chunks == [("c0", "c1")] * 8 + [("c2", "c3")] * 8 + [("c4", "c5")] * 8
    keys = [prefix_key(r) for r in seen]
    assert sum(a != b for a, b in itertools.pairwise(keys)) == 2
    assert [r.sample_id for r in result.results] == [s.id for s in group()]


def test_rubric_first_chunks_stay_fixed_when_part_of_a_rubric_is_cached(tmp_path) -> None:
    store = tmp_path / "cache.sqlite"
    options = {"mode": "grouped", "group_size": 3, "layout": "rubric-first", "store": store}
    first = Sample(
        id="a",
        messages=group()[0].messages,
        rubric=Rubric(id="r", criteria=RUBRIC.criteria[:2]),
        response=RESPONSES[0],
    )
    rubricate.grade([first], ScriptedJudge(reply=by_content), **options)  # type: ignore[arg-type]
    seen: list[tuple[str, ...]] = []

    def reply(request: JudgeRequest) -> str:
        seen.append(request.criterion_ids)
        return by_content(request)

    rubricate.grade([group()[0]], ScriptedJudge(reply=reply), **options)  # type: ignore[arg-type]
    # c0 and c1 are cached: the chunk [c0, c1, c2] asks only c2, and [c3, c4, c5] stays as
    # it is (packing the misses would ask [c2, c3, c4] and [c5]): the same chunks, and so
    # the same prompt prefixes, as every other response of the group gets.
    assert seen == [("c2",), ("c3", "c4", "c5")]


def test_the_layouts_never_share_cached_verdicts(tmp_path) -> None:
    store = tmp_path / "cache.sqlite"
    judge = ScriptedJudge(reply=by_content)
    rubricate.grade(group(), judge, mode="grouped", store=store)
    calls = judge.calls
    rubricate.grade(group(), judge, mode="grouped", layout="rubric-first", store=store)
    assert judge.calls == 2 * calls  # nothing from the response-first run was reused
    again = rubricate.grade(group(), judge, mode="grouped", layout="rubric-first", store=store)
    assert judge.calls == 2 * calls and again.summary.counts.cache_hits == 6 * len(RESPONSES)
    a = GradeOptions(mode="grouped")
    b = GradeOptions(mode="grouped", layout="rubric-first")
    assert a.mode_tag == "grouped:4" and b.mode_tag == "grouped:4+rubric-first"


def test_a_single_criterion_gets_the_grouped_reply_and_schema() -> None:
    criterion = RUBRIC.criteria[0]
    schema = json.loads(reply_schema([criterion], explain=False, evidence=False, keyed=True))
    assert schema["required"] == ["verdicts"]
    assert schema["properties"]["verdicts"]["required"] == ["c0"]
    seen: list[JudgeRequest] = []

    def reply(request: JudgeRequest) -> str:
        seen.append(request)
        return json.dumps({"verdicts": {"c0": {"verdict": "met"}}})

    single = Sample("x", group()[0].messages, Rubric(id="one", criteria=(criterion,)), "fever")
    result = rubricate.grade(
        [single],
        ScriptedJudge(reply=reply),
        mode="grouped",
        layout="rubric-first",
        constrain="json_schema",
    )
    assert result.results[0].verdicts[0].verdict == "met"
    assert seen[0].answer_prefix == "" and json.loads(seen[0].reply_schema or "") == schema
    # A judge that answers the single form anyway is still understood: one id is asked.
    plain = rubricate.grade(
        [single],
        ScriptedJudge(lambda _i, _t: "not_met"),
        mode="grouped",
        layout="rubric-first",
    )
    assert plain.results[0].verdicts[0].verdict == "not_met"


def test_a_constrained_keyed_reply_parses_for_a_chunk() -> None:
    chunk = RUBRIC.criteria[:3]
    schema = json.loads(reply_schema(chunk, explain=False, evidence=False, keyed=True))
    assert list(schema["properties"]["verdicts"]["properties"]) == ["c0", "c1", "c2"]
    found, missing = parse_group_reply(
        '{"verdicts": {"c0": {"verdict": "met"}, "c1": {"verdict": "not_met"}, '
        '"c2": {"verdict": "cannot_assess"}}}',
        chunk,
    )
    assert missing == [] and found["c1"].label == "not_met"


def test_rubric_first_with_evidence_checks_the_quotes() -> None:
    def reply(request: JudgeRequest) -> str:
        return json.dumps(
            {
                "verdicts": [
                    {"id": i, "evidence": ["drink water"], "verdict": "met"}
                    for i in request.criterion_ids
                ]
            }
        )

    result = rubricate.grade(
        [group()[1]],
        ScriptedJudge(reply=reply),
        mode="grouped",
        group_size=6,
        layout="rubric-first",
        evidence="strict",
    )
    verdicts = result.results[0].verdicts
    assert result.results[0].template.startswith("rubric_first_evidence_v1@")
    assert all(v.evidence and v.evidence[0].found for v in verdicts)


def test_rubric_first_is_refused_with_per_criterion_mode() -> None:
    with pytest.raises(ConfigError, match="needs mode 'grouped'"):
        GradeOptions(layout="rubric-first")
    with pytest.raises(ConfigError, match="unknown layout"):
        GradeOptions(mode="grouped", layout="sideways")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs mode 'grouped'"):
        JudgeSettings(layout="rubric-first")


def test_rubric_first_is_refused_with_a_truncating_local_judge() -> None:
    settings = JudgeSettings(mode="grouped", layout="rubric-first", on_overflow="truncate")
    with pytest.raises(ConfigError, match="cut the criteria"):
        settings.grade_options()
    remote = settings.model_copy(update={"judge_urls": ["http://127.0.0.1:1/v1"]})
    assert remote.grade_options().layout == "rubric-first"


def test_the_layout_comes_from_flags_the_environment_and_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    for name in [n for n in os.environ if n.startswith("RUBRICATE_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    assert Settings.load().judge.layout == "response-first"
    monkeypatch.setenv("RUBRICATE_MODE", "grouped")
    monkeypatch.setenv("RUBRICATE_LAYOUT", "rubric-first")
    settings = Settings.load()
    assert settings.judge.layout == "rubric-first"
    assert settings.source_of("judge.layout") == "env RUBRICATE_LAYOUT"
    flagged = Settings.load({"judge": {"layout": "response-first"}})
    assert flagged.source_of("judge.layout") == "flag --layout"
    monkeypatch.delenv("RUBRICATE_LAYOUT")
    monkeypatch.delenv("RUBRICATE_MODE")
    config = tmp_path / "r.toml"
    config.write_text('[judge]\nmode = "grouped"\nlayout = "rubric-first"\n', encoding="utf-8")
    loaded = Settings.load(config_file=config)
    assert loaded.judge.grade_options().layout == "rubric-first"
    bad = tmp_path / "bad.toml"
    bad.write_text('[judge]\nlayout = "sideways"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"judge.layout.*bad.toml:2"):
        Settings.load(config_file=bad)
    # Refused with per-criterion mode, naming where the layout was set.
    monkeypatch.setenv("RUBRICATE_LAYOUT", "rubric-first")
    with pytest.raises(ConfigError, match=r"'judge.layout' \(env RUBRICATE_LAYOUT\).*grouped"):
        Settings.load()
