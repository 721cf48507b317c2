"""``POST /v1/tournament`` over real HTTP: groups ranked by win rate, calls as stated and bounded,
cached, errors counted and shown, hostile bodies refused with the field named."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from rubricate.pairwise import calls_per_group
from rubricate.server import ServerSettings, create_app
from rubricate.settings import JudgeSettings
from tests.server.conftest import Serve
from tests.server.live import LiveServer
from tests.support.judge_server import JudgeServer

_SEAT = re.compile(r"<(response-([AB])-[0-9a-f]+)>\n(.*?)\n</\1>", re.DOTALL)
PROMPT = [{"role": "user", "content": "Describe the sea."}]
# Shuffled so that no schedule or seat order can rank them by accident.
COMPLETIONS = ["blue and wide", "b", "blue, wide and deep", "blue", "blue and"]
RUBRIC = [
    {"criterion": "Names a colour", "points": 2},
    {"criterion": "Says something about size", "points": 1},
]


def _longer_wins(body: dict[str, Any]) -> str:
    seats = {s: t for _, s, t in _SEAT.findall(body["messages"][-1]["content"])}
    return "[[A>B]]" if len(seats["A"]) > len(seats["B"]) else "[[B>A]]"


def _play(server: LiveServer, body: Any, **headers: str) -> httpx.Response:
    return httpx.post(f"{server.url}/v1/tournament", json=body, headers=headers, timeout=60)


def _group(completions: list[str] = COMPLETIONS, **extra: Any) -> dict[str, Any]:
    return {"prompt": PROMPT, "completions": completions, **extra}


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in metrics")


def test_round_robin_ranks_by_length_costs_g_g_minus_1_and_repeats_free(serve: Serve) -> None:
    with JudgeServer(respond=_longer_wins) as judge:
        server = serve(judge.url)
        first = _play(server, {"groups": [_group()]})
        calls = judge.requests
        again = _play(server, {"groups": [_group()]})
        assert judge.requests == calls  # the repeat asked the judge nothing
        metrics = httpx.get(f"{server.url}/metrics").text
    assert first.status_code == 200, first.text
    (group,) = first.json()["groups"]
    size = len(COMPLETIONS)
    assert calls == size * (size - 1) == calls_per_group(size) == 20
    assert group["judge_calls_planned"] == group["judge_calls"] == 20
    assert group["cache_hits"] == 0 and group["errors"] == 0
    rewards = group["rewards"]
    by_length = sorted(range(size), key=lambda i: len(COMPLETIONS[i]))
    ranked = [rewards[i] for i in by_length]
    assert ranked == sorted(set(ranked)) == [0.0, 0.25, 0.5, 0.75, 1.0]  # strictly increasing
    for entry, reward in zip(group["completions"], rewards, strict=True):
        assert entry["reward"] == reward and entry["reason"] is None
        assert entry["decisions"] == 2 * (size - 1) and entry["errors"] == 0
        assert entry["wins"] + entry["losses"] == entry["decisions"] and entry["ties"] == 0
    repeated = again.json()["groups"][0]
    assert repeated["rewards"] == rewards
    assert repeated["judge_calls"] == 0 and repeated["cache_hits"] == 20
    assert repeated["judge_calls_planned"] == 20
    assert 'rubricate_requests_total{endpoint="/v1/tournament",status="200"} 2' in metrics
    assert _metric(metrics, "rubricate_tournament_groups_total") == 2
    assert _metric(metrics, "rubricate_tournament_judge_calls_total") == 20
    assert _metric(metrics, "rubricate_tournament_cache_hits_total") == 20
    assert _metric(metrics, "rubricate_tournament_errors_total") == 0


def test_bounded_opponents_cost_exactly_what_is_stated_on_a_reproducible_schedule(
    serve: Serve,
) -> None:
    completions = ["x" * n for n in (5, 2, 9, 1, 7, 3, 8, 4, 6)]
    body = {"groups": [_group(completions)], "opponents": 2, "seed": 11}
    with JudgeServer(respond=_longer_wins) as judge:
        server = serve(judge.url, cache=False)  # no cache: each request plays for real
        first = _play(server, body).json()["groups"][0]
        after_first = judge.requests
        second = _play(server, body).json()["groups"][0]
        after_second = judge.requests
        reseeded = _play(server, {**body, "seed": 12}).json()["groups"][0]
    stated = calls_per_group(9, opponents=2)
    assert stated == 9 * 1 * 2 < calls_per_group(9)
    assert after_first == stated and after_second == 2 * stated
    assert first["judge_calls"] == second["judge_calls"] == first["judge_calls_planned"] == stated
    assert second["matches"] == first["matches"] and len(first["matches"]) == 9
    assert reseeded["matches"] != first["matches"]
    assert second["rewards"] == first["rewards"]
    assert {c["decisions"] for c in first["completions"]} == {4}  # 2 matches x 2 orders
    assert first["rewards"][2] == 1.0 and first["rewards"][3] == 0.0  # longest, shortest


def test_server_default_opponents_and_explicit_null_for_a_round_robin(serve: Serve) -> None:
    completions = ["x" * n for n in range(1, 8)]
    with JudgeServer(respond=_longer_wins) as judge:
        server = serve(judge.url, cache=False, tournament_opponents=2)
        bounded = _play(server, {"groups": [_group(completions)]}).json()
        full = _play(server, {"groups": [_group(completions)], "opponents": None}).json()
    assert bounded["opponents"] == 2 and full["opponents"] is None
    assert bounded["groups"][0]["judge_calls"] == calls_per_group(7, opponents=2) == 14
    assert full["groups"][0]["judge_calls"] == calls_per_group(7) == 42


def test_groups_of_one_request_report_their_own_calls_and_rubrics_go_criterion_wise(
    serve: Serve,
) -> None:
    groups = [
        _group(["a", "aaa", "aa"], id="holistic"),
        _group(["bb", "b", "bbb"], id="by-criteria", rubric=RUBRIC),
    ]
    with JudgeServer(respond=_longer_wins) as judge:
        server = serve(judge.url)
        reply = _play(server, {"groups": groups, "orders": "one"})
        total = judge.requests
    assert reply.status_code == 200, reply.text
    holistic, criteria = reply.json()["groups"]
    assert holistic["id"] == "holistic" and criteria["id"] == "by-criteria"
    assert holistic["judge_calls"] == calls_per_group(3, orders="one") == 3
    assert criteria["judge_calls"] == calls_per_group(3, orders="one", criteria=2) == 6
    assert criteria["judge_calls_planned"] == 6 and total == 9
    assert holistic["rewards"] == [0.0, 1.0, 0.5] and criteria["rewards"] == [0.5, 0.0, 1.0]


def test_a_judge_talking_garbage_gives_null_rewards_with_counted_errors(serve: Serve) -> None:
    with JudgeServer(fault_rate=1.0, faults=("garbage",)) as judge:
        server = serve(judge.url)
        reply = _play(server, {"groups": [_group(["a", "bb", "ccc"])]})
        calls = judge.requests
        metrics = httpx.get(f"{server.url}/metrics").text
    assert reply.status_code == 200, reply.text  # the judge is up: its replies are unusable
    group = reply.json()["groups"][0]
    assert group["rewards"] == [None, None, None]
    assert group["errors"] == 6 and group["error_kinds"] == {"unparseable": 6}
    assert group["judge_calls"] == calls == 6 * 3  # each asked twice again (reasks=2)
    assert group["unparseable_replies"] == 18
    for entry in group["completions"]:
        assert entry["reward"] is None and entry["decisions"] == 0 and entry["errors"] == 4
        assert entry["reason"] == "none of its 4 decisions came back (unparseable x4)"
    assert _metric(metrics, "rubricate_tournament_errors_total") == 6
    assert _metric(metrics, "rubricate_tournament_unrewarded_total") == 3
    assert _metric(metrics, "rubricate_tournament_judge_calls_total") == 18


def test_a_judge_that_is_down_gets_503_judge_down_like_the_other_endpoints(
    tmp_path: Path,
) -> None:
    with JudgeServer(fault_rate=1.0, faults=("500",), record=False) as judge:
        settings = JudgeSettings(
            judge_urls=[judge.url],
            judge_model="stub",
            cache=tmp_path / "c.sqlite",
            max_retries=0,
            concurrency=2,
            breaker_failures=2,
            breaker_cooldown=600,
        )
        with LiveServer(create_app(ServerSettings(judge=settings))) as server:
            first = _play(server, {"groups": [_group()]})
            calls = judge.requests
            later = _play(server, {"groups": [_group(["p", "q"])]})
            assert judge.requests == calls  # refused before any judge call
            metrics = httpx.get(f"{server.url}/metrics").text
    for reply in (first, later):
        assert reply.status_code == 503, reply.text
        assert reply.json()["error"]["code"] == "judge_down"
        assert int(reply.headers["retry-after"]) >= 500
    assert 'rejected_total{reason="judge_down"} 2' in metrics
    assert _metric(metrics, "rubricate_tournament_failed_calls_total") >= 2
    assert 'status="500"' not in metrics


def test_planned_calls_count_against_max_pending_and_the_api_key_guards_it(
    serve: Serve,
) -> None:
    with JudgeServer(respond=_longer_wins) as judge:
        server = serve(judge.url, max_pending=10, api_key="s3cret")
        refused = _play(server, {"groups": [_group()]})
        too_big = _play(server, {"groups": [_group()]}, authorization="Bearer s3cret")
        fits = _play(
            server, {"groups": [_group(["a", "bb", "ccc"])]}, authorization="Bearer s3cret"
        )
    assert refused.status_code == 401
    assert too_big.status_code == 413, too_big.text
    assert too_big.json()["error"]["code"] == "too_many_judge_calls"
    assert "20 judge calls" in too_big.json()["error"]["message"]
    assert fits.status_code == 200 and fits.json()["groups"][0]["judge_calls"] == 6


def _nested(depth: int) -> bytes:
    return b'{"groups": ' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        ({"groups": _group()}, 422, "groups"),
        ({"groups": []}, 422, "groups"),
        ({"groups": [_group("a, b")]}, 422, "groups[0].completions"),
        ({"groups": [_group(["only"])]}, 422, "groups[0].completions"),
        ({"groups": [_group(["a"] * 5)]}, 422, "groups[0].completions"),
        ({"groups": [_group(["a", 3])]}, 422, "groups[0].completions[1]"),
        ({"groups": [_group(["a", None])]}, 422, "groups[0].completions[1]"),
        ({"groups": [_group(["a", ["b"]])]}, 422, "groups[0].completions[1]"),
        ({"groups": [_group(["a", "b", "c"])], "opponents": 0}, 422, "opponents"),
        ({"groups": [_group(["a", "b", "c"])], "opponents": -1}, 422, "opponents"),
        ({"groups": [_group(["a", "b", "c"])], "opponents": 3}, 422, "opponents"),
        ({"groups": [_group(["a", "b", "c"])], "opponents": True}, 422, "opponents"),
        ({"groups": [_group(["a", "b", "c"])], "opponents": 1.5}, 422, "opponents"),
        ({"groups": [_group(["a", "b", "c"])], "opponents": 2.0}, 422, "opponents"),
        ({"groups": [_group(["a", "b", "c"])], "opponents": "2"}, 422, "opponents"),
        ({"groups": [_group(["a", "b"])], "orders": "three"}, 422, "orders"),
        ({"groups": [_group(["a", "b"])], "orders": None}, 422, "orders"),
        ({"groups": [_group(["a", "b"])], "seed": -1}, 422, "seed"),
        ({"groups": [_group(["a", "b"])], "seed": 2**63}, 400, None),  # beyond JSON's 18 digits
        ({"groups": [_group(["a", "b"])], "seed": "7"}, 422, "seed"),
        ({"groups": [_group(["a", "b"], colour="red")]}, 422, "groups[0].colour"),
        ({"groups": [_group(["a", "b"])], "normalize": "rank"}, 422, "normalize"),
        ({"groups": [_group(["a", "b"], rubric_id="nope")]}, 422, "groups[0].rubric_id"),
        (
            {"groups": [_group(["a", "b"], rubric=[{"criterion": "x", "points": "many"}])]},
            422,
            "groups[0].rubric",
        ),
        (
            {"groups": [{"prompt": [{"role": "user"}], "completions": ["a", "b"]}]},
            422,
            "groups[0].prompt[0].content",
        ),
        ({"groups": [{"completions": ["a", "b"]}]}, 422, "groups[0].prompt"),
        ([_group()], 422, "body"),
        (_nested(200), 400, None),
        (b'{"groups": [{"prompt": "\xff\xfe", "completions": ["a", "b"]}]}', 400, None),
        (b'{"groups": [], "seed": NaN}', 400, None),
        (b"", 400, None),
    ],
)
def test_hostile_bodies_get_a_4xx_naming_the_field(
    serve: Serve, payload: Any, status: int, field: str | None
) -> None:
    with JudgeServer(respond=_longer_wins) as judge:
        server = serve(judge.url, tournament_max_group=4)
        content = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        reply = httpx.post(
            f"{server.url}/v1/tournament",
            content=content,
            headers={"content-type": "application/json"},
            timeout=30,
        )
        calls = judge.requests
    assert reply.status_code == status, reply.text
    error = reply.json()["error"]
    assert error["code"] == ("invalid_input" if status == 422 else "invalid_json")
    assert error.get("field") == field
    if field:
        assert f"'{field}'" in error["message"]
    assert calls == 0


def test_duplicate_completions_share_a_reward_and_their_identical_judgments(serve: Serve) -> None:
    with JudgeServer(respond=_longer_wins) as judge:
        server = serve(judge.url)
        reply = _play(server, {"groups": [_group(["same", "same", "much longer"])]})
        calls = judge.requests
    group = reply.json()["groups"][0]
    assert group["rewards"] == [0.25, 0.25, 1.0]
    # "same" v "same" reads alike in both orders, and so do both "same" v "much longer":
    # of the six judgments planned, three are made and three shared with an identical one.
    assert group["judge_calls_planned"] == 6 and group["judge_calls"] == calls == 3
    assert group["deduplicated"] + group["cache_hits"] == 3


def _first_seat(body: dict[str, Any]) -> str:
    return "[[A>B]]"


def test_a_jury_server_plays_every_member_and_the_majority_decides(tmp_path: Path) -> None:
    # Two judges rank by length, one always picks the first seat: the majority ranks by length,
    # and every member is asked every order of every match.
    with (
        JudgeServer(respond=_longer_wins) as a,
        JudgeServer(respond=_longer_wins) as b,
        JudgeServer(respond=_first_seat) as biased,
    ):
        jury = tmp_path / "jury.json"
        members = [{"url": s.url, "model": f"m{i}"} for i, s in enumerate((a, b, biased))]
        jury.write_text(json.dumps({"judges": members, "rule": "majority"}))
        settings = JudgeSettings(jury=jury, cache=tmp_path / "c.sqlite", max_retries=0)
        with LiveServer(create_app(ServerSettings(judge=settings))) as server:
            reply = _play(server, {"groups": [_group()]})
        calls = [a.requests, b.requests, biased.requests]
    assert reply.status_code == 200, reply.text
    body = reply.json()
    size = len(COMPLETIONS)
    assert calls == [size * (size - 1)] * 3
    (group,) = body["groups"]
    assert group["judge_calls"] == 3 * size * (size - 1) and group["errors"] == 0
    by_length = sorted(range(size), key=lambda i: len(COMPLETIONS[i]))
    assert [group["rewards"][i] for i in by_length] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert body["judge"].startswith("jury:majority[")
