"""``rubricate compare`` end to end against a loopback judge over HTTP."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from rubricate.cli import app
from tests.support.judge_server import JudgeServer

runner = CliRunner()
JUDGEBENCH = Path(__file__).parents[1] / "data" / "judgebench" / "judgebench_sample.jsonl"
_SEAT_A = re.compile(r"<(response-A-[0-9a-f]+)>\n(.*?)\n</\1>", re.DOTALL)
RIGHT = {"17 * 23 = 391.", "s[::-1]"}


def _knows_the_answers(body: dict[str, Any]) -> str:
    first = _SEAT_A.search(body["messages"][1]["content"])
    assert first is not None
    return '{"winner": "A"}' if first.group(2) in RIGHT else '{"winner": "B"}'


def _args(server: JudgeServer, data: Path, tmp_path: Path, *extra: str) -> list[str]:
    return [
        "compare", str(data), "--judge-url", server.url, "--judge-model", "stub",
        "--out", str(tmp_path / "run"), "--cache", str(tmp_path / "cache.sqlite"), *extra,
    ]  # fmt: skip


def test_compare_judgebench_pairs(tmp_path: Path) -> None:
    with JudgeServer(respond=_knows_the_answers) as server:
        result = runner.invoke(app, _args(server, JUDGEBENCH, tmp_path))
        assert result.exit_code == 0, result.output
        assert server.requests == 6
        again = runner.invoke(app, _args(server, JUDGEBENCH, tmp_path))
        assert again.exit_code == 0 and server.requests == 6
    summary = json.loads((tmp_path / "run" / "summary.json").read_text(encoding="utf-8"))
    assert summary["n_pairs"] == 3 and summary["orders"] == "both"
    # Two pairs are judged right in both orders; the third's right answer is not in RIGHT,
    # so the judge picks whichever sits second: inconsistent, not correct.
    assert summary["accuracy"] == 2 / 3 and summary["consistency"] == 2 / 3
    assert set(summary["by_source"]) == {"mmlu-pro-math", "livecodebench", "mmlu-pro-law"}
    assert "accuracy" in result.output and "consistency" in result.output
    lines = (tmp_path / "run" / "pairs.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["pair_id"] for line in lines] == ["jb-0001", "jb-0002", "jb-0003"]


JUDGEBENCH_REAL = JUDGEBENCH.with_name("judgebench_real.jsonl")
_SEAT_B = re.compile(r"<(response-B-[0-9a-f]+)>\n(.*?)\n</\1>", re.DOTALL)


def _flip(decision: str) -> str:
    return {"A>B": "B>A", "B>A": "A>B"}.get(decision, decision)


def test_compare_real_judgebench_pairs_scored_by_judgebench_rule(tmp_path: Path) -> None:
    """Three published JudgeBench pairs (see tests/data/judgebench/README.md). The judge picks
    the right response on the physics pair, the wrong one on the math pair, and always the
    first seat on the code pair; accuracy is then re-done with JudgeBench's
    ``compute_final_metrics`` (second order flipped back, net vote over the two orders)."""
    pairs = [json.loads(line) for line in JUDGEBENCH_REAL.read_text("utf-8").splitlines()]
    assert [p["source"] for p in pairs] == ["mmlu-pro-physics", "livebench-math", "livecodebench"]
    behaviour = dict(zip([p["pair_id"] for p in pairs], ["right", "wrong", "first"], strict=True))

    def owner(text: str) -> tuple[dict[str, Any], str]:
        """The pair and original position ("A"/"B") a seated response comes from."""
        found = [
            (pair, side)
            for pair in pairs
            for side in ("A", "B")
            if pair[f"response_{side}"].strip() == text.strip()
        ]
        assert len(found) == 1
        return found[0]

    def verdict(pair: dict[str, Any], seat_a: str) -> str:
        """What the judge answers when the original response ``seat_a`` sits first."""
        kind = behaviour[pair["pair_id"]]
        if kind == "first":
            return "A"
        right = pair["label"][0]
        pick = right if kind == "right" else {"A": "B", "B": "A"}[right]
        return "A" if pick == seat_a else "B"

    def respond(body: dict[str, Any]) -> str:
        content = body["messages"][1]["content"]
        first, second = _SEAT_A.search(content), _SEAT_B.search(content)
        assert first is not None and second is not None
        pair, seat_a = owner(first.group(2))
        assert owner(second.group(2)) == (pair, {"A": "B", "B": "A"}[seat_a])
        return json.dumps({"winner": verdict(pair, seat_a)})

    with JudgeServer(respond=respond) as server:
        result = runner.invoke(app, _args(server, JUDGEBENCH_REAL, tmp_path))
        assert result.exit_code == 0, result.output
        assert server.requests == 6
    summary = json.loads((tmp_path / "run" / "summary.json").read_text(encoding="utf-8"))
    lines = [
        json.loads(line)
        for line in (tmp_path / "run" / "pairs.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert [line["pair_id"] for line in lines] == [p["pair_id"] for p in pairs]
    n_correct = n_consistent = 0
    for pair, line in zip(pairs, lines, strict=True):
        # JudgeBench: judgment 1 with A first, judgment 2 with B first, flipped back.
        decision1 = "A>B" if verdict(pair, "A") == "A" else "B>A"
        decision2 = _flip("A>B" if verdict(pair, "B") == "A" else "B>A")
        counter = sum(
            1 if d == pair["label"] else -1 if d == _flip(pair["label"]) else 0
            for d in (decision1, decision2)
        )
        n_correct += counter > 0
        n_consistent += decision1 == decision2
        assert line["label"] == pair["label"] and line["source"] == pair["source"]
        assert line["decisions"] == [decision1, decision2]
        assert line["correct"] is (counter > 0)
    assert (n_correct, n_consistent) == (1, 2)
    assert summary["n_pairs"] == 3
    assert summary["accuracy"] == pytest.approx(n_correct / len(pairs))
    assert summary["consistency"] == pytest.approx(n_consistent / len(pairs))
    assert summary["by_source"]["mmlu-pro-physics"]["accuracy"] == 1.0
    assert summary["by_source"]["livebench-math"]["accuracy"] == 0.0


def test_one_order(tmp_path: Path) -> None:
    with JudgeServer(respond=_knows_the_answers) as server:
        result = runner.invoke(app, _args(server, JUDGEBENCH, tmp_path, "--orders", "one"))
        assert result.exit_code == 0, result.output
        assert server.requests == 3
    summary = json.loads((tmp_path / "run" / "summary.json").read_text(encoding="utf-8"))
    assert summary["consistency"] is None


def test_bad_input_names_file_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"pair_id": "a", "question": "q", "response_A": "x", "response_B": "y"}\n'
        '{"pair_id": "b", "question": "q", "response_A": "x"}\n',
        encoding="utf-8",
    )
    with JudgeServer(respond=_knows_the_answers) as server:
        result = runner.invoke(app, _args(server, bad, tmp_path))
        assert result.exit_code == 2
        assert f"{bad}:2" in result.output and "response_B" in result.output
        assert "Traceback" not in result.output
        skipped = runner.invoke(app, _args(server, bad, tmp_path, "--on-invalid", "skip"))
        assert skipped.exit_code == 0, skipped.output
    summary = json.loads((tmp_path / "run" / "summary.json").read_text(encoding="utf-8"))
    assert summary["n_pairs"] == 1 and summary["counts"]["skipped_lines"] == 1


def test_a_pair_id_given_twice_stops_the_run_or_is_skipped(tmp_path: Path) -> None:
    first = JUDGEBENCH.read_text(encoding="utf-8").splitlines()[0]
    twice = tmp_path / "twice.jsonl"
    # The same id on a different pair: its line in pairs.jsonl would shadow the first's.
    twice.write_text(f"{first}\n{first.replace('391', '392')}\n", encoding="utf-8")
    with JudgeServer(respond=_knows_the_answers) as server:
        result = runner.invoke(app, _args(server, twice, tmp_path))
        assert result.exit_code == 2, result.output
        said = " ".join(result.output.split())
        assert (
            f"error (invalid_input): {twice}:2, field 'pair_id': "
            "pair id 'jb-0001' appears twice (lines 1 and 2)" in said
        )
        assert "Traceback" not in result.output
        skipped = runner.invoke(app, _args(server, twice, tmp_path, "--on-invalid", "skip"))
        assert skipped.exit_code == 0, skipped.output
    summary = json.loads((tmp_path / "run" / "summary.json").read_text(encoding="utf-8"))
    assert summary["n_pairs"] == 1 and summary["counts"]["skipped_lines"] == 1
    assert any("appears twice (lines 1 and 2)" in reason for reason in summary["skipped"])
    lines = (tmp_path / "run" / "pairs.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["pair_id"] for line in lines] == ["jb-0001"]
    assert summary["accuracy"] == 1.0  # the first pair was compared: its A is right


def test_bad_field_mapping_is_a_usage_error(tmp_path: Path) -> None:
    with JudgeServer(respond=_knows_the_answers) as server:
        result = runner.invoke(app, _args(server, JUDGEBENCH, tmp_path, "--field", "answer=x"))
    assert result.exit_code == 2 and "expected TARGET=PATH" in result.output


def test_limit(tmp_path: Path) -> None:
    with JudgeServer(respond=_knows_the_answers) as server:
        result = runner.invoke(app, _args(server, JUDGEBENCH, tmp_path, "--limit", "2"))
        assert result.exit_code == 0, result.output
        assert server.requests == 4
    summary = json.loads((tmp_path / "run" / "summary.json").read_text(encoding="utf-8"))
    assert summary["n_pairs"] == 2


_SEAT_B = re.compile(r"<(response-B-[0-9a-f]+)>\n(.*?)\n</\1>", re.DOTALL)


def _by_criterion(body: dict[str, Any]) -> str:
    """Seat text containing 'prime' satisfies every criterion; required ones answered per seat."""
    content = body["messages"][1]["content"]
    a, b = _SEAT_A.search(content), _SEAT_B.search(content)
    assert a is not None and b is not None
    if 'note="required"' in content:
        verdict = {True: "met", False: "not_met"}
        return json.dumps({"A": verdict["7" in a.group(2)], "B": verdict["7" in b.group(2)]})
    return '{"winner": "A"}' if "prime" in a.group(2) else '{"winner": "B"}'


def test_two_models_compared_criterion_by_criterion(tmp_path: Path) -> None:
    data = tmp_path / "data.jsonl"
    data.write_text(
        json.dumps(
            {
                "id": "s1",
                "prompt": "Name a prime and say why.",
                "rubric": [
                    {"criterion": "Explains what a prime is.", "points": 5},
                    {"criterion": "The number named is 7.", "points": 1, "required": True},
                ],
            }
        )
        + "\n",
        encoding="utf-8",
    )
    model_a = tmp_path / "a.jsonl"
    model_b = tmp_path / "b.jsonl"
    model_a.write_text('{"sample_id": "s1", "response": "9, a prime."}\n', encoding="utf-8")
    model_b.write_text('{"sample_id": "s1", "response": "7."}\n', encoding="utf-8")
    extra = ("--responses-a", str(model_a), "--responses-b", str(model_b))
    with JudgeServer(respond=_by_criterion) as server:
        result = runner.invoke(app, _args(server, data, tmp_path, *extra))
        assert result.exit_code == 0, result.output
        assert server.requests == 4  # 2 criteria x 2 orders
    (line,) = (tmp_path / "run" / "pairs.jsonl").read_text(encoding="utf-8").splitlines()
    pair = json.loads(line)
    # A wins the explanation on points (5 to 0), but fails the required criterion B meets.
    assert pair["mode"] == "criteria" and pair["preference"] == "B>A"
    assert pair["decisions"] == ["B>A", "B>A"] and pair["correct"] is None
