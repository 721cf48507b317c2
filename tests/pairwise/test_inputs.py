"""Pairs from JudgeBench lines, a field mapping, and two response files joined on sample id."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rubricate.errors import ConfigError, InputError
from rubricate.pairwise import read_pairs
from tests.helpers import SHARED_DATA

DATA = Path(__file__).parents[1] / "data"


def _write(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_judgebench_lines_as_they_are() -> None:
    pairs = list(read_pairs(DATA / "judgebench" / "judgebench_sample.jsonl"))
    assert len(pairs) == 3
    first = pairs[0]
    assert not isinstance(first, InputError)
    assert first.id == "jb-0001" and first.label == "A>B" and first.source == "mmlu-pro-math"
    assert first.messages[0].content == "What is 17 * 23?"
    assert first.response_a == "17 * 23 = 391." and first.rubric is None


def test_real_judgebench_lines_keep_their_text() -> None:
    path = DATA / "judgebench" / "judgebench_real.jsonl"
    records = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    pairs = list(read_pairs(path))
    assert len(pairs) == len(records) == 3
    for pair, record in zip(pairs, records, strict=True):
        assert not isinstance(pair, InputError)
        assert (pair.id, pair.label, pair.source) == (
            record["pair_id"],
            record["label"],
            record["source"],
        )
        assert pair.messages[0].content == record["question"]
        assert (pair.response_a, pair.response_b) == (record["response_A"], record["response_B"])


def test_the_shared_judgebench_file_reads_whole() -> None:
    path = SHARED_DATA / "judgebench_gpt-4o.jsonl"
    if not path.exists():
        pytest.skip("shared data not present")
    pairs = list(read_pairs(path))
    assert len(pairs) == 350 and not any(isinstance(p, InputError) for p in pairs)


def test_a_field_mapping_with_a_rubric(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "pairs.jsonl",
        [
            {
                "uid": 7,
                "meta": {"prompt": "Say hi."},
                "left": "hi",
                "right": "hello there",
                "winner": "B",
                "criteria": [{"criterion": "Is polite.", "points": 2, "required": True}],
            }
        ],
    )
    fields = {
        "id": "uid",
        "prompt": "meta.prompt",
        "response_a": "left",
        "response_b": "right",
        "label": "winner",
        "rubric": "criteria",
    }
    (pair,) = list(read_pairs(path, fields=fields))
    assert not isinstance(pair, InputError)
    assert (pair.id, pair.response_a, pair.response_b, pair.label) == (
        "7",
        "hi",
        "hello there",
        "B>A",
    )
    assert pair.rubric is not None and pair.rubric.criteria[0].required


def test_bad_lines_name_file_line_and_field(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "bad.jsonl",
        [
            {"pair_id": "ok", "question": "q", "response_A": "a", "response_B": "b"},
            {"pair_id": "x", "question": "q", "response_A": "a"},
            {"pair_id": "y", "question": "q", "response_A": "a", "response_B": "b", "label": "A"},
        ],
    )
    items = list(read_pairs(path))
    assert not isinstance(items[0], InputError)
    assert isinstance(items[1], InputError) and items[1].line == 2
    assert items[1].field == "response_B"
    assert isinstance(items[2], InputError) and "label" in str(items[2]) and ":3" in str(items[2])
    with pytest.raises(ConfigError, match="unknown pair field"):
        read_pairs(path, fields={"answer": "x"})
    with pytest.raises(InputError, match="file not found"):
        read_pairs(tmp_path / "missing.jsonl")


def test_two_response_files_joined_on_sample_id(tmp_path: Path) -> None:
    data = _write(
        tmp_path / "data.jsonl",
        [
            {"id": "s1", "prompt": "Name a prime.", "rubric": ["Names a prime number."]},
            {"id": "s2", "prompt": "Name an even number.", "rubric": ["Names an even number."]},
        ],
    )
    model_a = _write(
        tmp_path / "a.jsonl",
        [{"sample_id": "s1", "response": "7"}, {"sample_id": "s2", "response": "4"}],
    )
    model_b = _write(tmp_path / "b.jsonl", [{"sample_id": "s1", "response": "9"}])
    items = list(read_pairs(data, responses_a=model_a, responses_b=model_b))
    first, second = items
    assert not isinstance(first, InputError)
    assert (first.id, first.response_a, first.response_b) == ("s1", "7", "9")
    assert first.rubric is not None and first.rubric.criteria[0].text == "Names a prime number."
    assert isinstance(second, InputError) and "no response for sample 's2'" in str(second)
    assert str(model_b) in str(second)
    with pytest.raises(ConfigError, match="both response files"):
        read_pairs(data, responses_a=model_a)


def _twice(item: object, path: Path, field: str, noun: str, ident: str) -> None:
    assert isinstance(item, InputError)
    assert (item.file, item.line, item.field) == (str(path), 3, field)
    assert item.reason == f"{noun} id '{ident}' appears twice (lines 1 and 3)"


def test_a_judgebench_pair_id_given_twice_is_refused(tmp_path: Path) -> None:
    line = {"pair_id": "jb-1", "question": "q", "response_A": "a", "response_B": "b"}
    path = _write(tmp_path / "jb.jsonl", [line, {**line, "pair_id": "jb-2"}, line])
    first, second, third = read_pairs(path)
    assert not isinstance(first, InputError) and not isinstance(second, InputError)
    _twice(third, path, "pair_id", "pair", "jb-1")


def test_a_mapped_pair_id_given_twice_names_the_field_it_came_from(tmp_path: Path) -> None:
    line = {"uid": 7, "prompt": "q", "chosen": "a", "rejected": "b"}
    path = _write(tmp_path / "pairs.jsonl", [line, {**line, "uid": 8}, {**line, "prompt": "r"}])
    *_, third = read_pairs(path)
    _twice(third, path, "uid", "pair", "7")
    mapped = _write(
        tmp_path / "mapped.jsonl",
        [
            {"meta": {"key": "k"}, **line},
            {"meta": {"key": "j"}, **line},
            {"meta": {"key": "k"}, **line},
        ],
    )
    *_, third = read_pairs(mapped, fields={"id": "meta.key"})
    _twice(third, mapped, "meta.key", "pair", "k")


def test_a_sample_id_given_twice_in_a_joined_pair_is_refused(tmp_path: Path) -> None:
    row = {"id": "s1", "prompt": "Name a prime.", "rubric": ["Names a prime number."]}
    data = _write(tmp_path / "data.jsonl", [row, {**row, "id": "s2"}, row])
    responses = [{"sample_id": "s1", "response": "7"}, {"sample_id": "s2", "response": "5"}]
    model_a = _write(tmp_path / "a.jsonl", responses)
    model_b = _write(tmp_path / "b.jsonl", responses)
    *_, third = read_pairs(data, responses_a=model_a, responses_b=model_b)
    _twice(third, data, "id", "sample", "s1")

    # In a response file it stops the read: which of the two responses is meant is unknown.
    twice = _write(tmp_path / "twice.jsonl", [*responses, responses[0]])
    with pytest.raises(InputError) as raised:
        list(read_pairs(data, responses_a=model_a, responses_b=twice))
    _twice(raised.value, twice, "sample_id", "sample", "s1")
