"""Hostile data files given to ``rubricate grade``: each ends in one located error line and exit 2
(never a traceback, never a silent coercion), or is skipped and counted under ``--on-invalid skip``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from rubricate.cli import app
from rubricate.errors import InputError
from tests.support.judge_server import JudgeServer

runner = CliRunner()

GOOD = {"criterion": "Gives the dose", "points": 5, "tags": ["axis:accuracy"]}


def record(prompt_id: str = "p1", response: Any = "Take 5 mg.", **criterion: Any) -> dict[str, Any]:
    return {
        "prompt_id": prompt_id,
        "prompt": [{"role": "user", "content": "Dose?"}],
        "rubrics": [GOOD, {"criterion": "Suggests a doctor", "points": 3, **criterion}],
        "response": response,
    }


def line(value: dict[str, Any], **raw: str) -> str:
    """``value`` as JSON with placeholders replaced by raw JSON text (NaN, 1e999, ...)."""
    text = json.dumps(value)
    for name, literal in raw.items():
        text = text.replace(json.dumps(f"@{name}"), literal)
    return text


@pytest.fixture(scope="module")
def judge():
    with JudgeServer() as server:
        yield server


def grade(judge: JudgeServer, data: Path, tmp_path: Path, *extra: str) -> Any:
    args = [
        "grade", str(data), "--judge-url", judge.url, "--judge-model", "stub",
        "--out", str(tmp_path / "run"), "--cache", str(tmp_path / "c.sqlite"), "--quiet", *extra,
    ]  # fmt: skip
    return runner.invoke(app, args)


def assert_located(result: Any, data: Path, line_number: int, *needles: str) -> None:
    output = " ".join(result.output.split())  # rich wraps long lines
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert f"{data}:{line_number}" in output.replace(" ", "") or f"{data}:{line_number}" in output
    for needle in needles:
        assert needle in output, (needle, output)


BAD_LINES = [
    ("nan-points", line(record(points="@x"), x="NaN"), "not a JSON number"),
    ("infinity-points", line(record(points="@x"), x="-Infinity"), "not a JSON number"),
    ("overflow-points", line(record(points="@x"), x="1e999"), "out of range"),
    ("huge-int-points", line(record(points="@x"), x="1" + "0" * 400), "out of range"),
    ("bool-points", json.dumps(record(points=True)), "rubrics[1].points"),
    ("string-points", json.dumps(record(points="5")), "rubrics[1].points"),
    ("big-points", json.dumps(record(points=1e12)), "rubrics[1].points"),
    ("required-as-string", json.dumps(record(required="false")), "rubrics[1].required"),
    ("integer-tags", json.dumps(record(tags=[1, 2])), "rubrics[1].tags[0]"),
    ("lone-surrogate", json.dumps(record(response="\ud800 hi")), "lone surrogate"),
    ("deep-nesting", line(record(tags="@x"), x="[" * 100_000 + "]" * 100_000), "nested more"),
    ("response-wrong-type", json.dumps(record(response=5)), "field 'response'"),
    ("prompt-id-integer", json.dumps({**record(), "prompt_id": 7}), "field 'prompt_id'"),
    ("empty-criterion", json.dumps(record(criterion="   ")), "rubrics[1].criterion"),
    ("criterion-not-text", json.dumps(record(criterion=["a"])), "rubrics[1].criterion"),
    ("duplicate-criterion-id", json.dumps({**record(), "rubrics": [
        {"id": "c", "criterion": "A"}, {"id": "c", "criterion": "B"}]}), "appears twice"),
    ("not-an-object", "[1, 2]", "expected a JSON object"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "text", "needle"), BAD_LINES, ids=[c[0] for c in BAD_LINES])
def test_bad_line_is_a_located_error(
    judge: JudgeServer, tmp_path: Path, name: str, text: str, needle: str
) -> None:
    data = tmp_path / "data.jsonl"
    data.write_text(text + "\n", encoding="utf-8", errors="surrogatepass")
    result = grade(judge, data, tmp_path)
    assert_located(result, data, 1, needle)
    assert not (tmp_path / "run" / "summary.json").exists()


def test_gate_floor_must_be_a_finite_number(judge: JudgeServer, tmp_path: Path) -> None:
    data = tmp_path / "data.jsonl"
    rubric = {"criteria": [GOOD], "gate_floor": "low"}
    data.write_text(
        json.dumps({"id": "s1", "prompt": "Dose?", "response": "5 mg", "rubric": rubric}) + "\n"
    )
    assert_located(grade(judge, data, tmp_path), data, 1, "rubric.gate_floor")


def test_duplicate_prompt_ids_name_both_lines(judge: JudgeServer, tmp_path: Path) -> None:
    data = tmp_path / "data.jsonl"
    data.write_text("\n".join(json.dumps(record("p1")) for _ in range(2)) + "\n")
    assert_located(grade(judge, data, tmp_path), data, 2, "appears twice (lines 1 and 2)")


def test_generic_null_ids_are_refused_not_turned_into_none(
    judge: JudgeServer, tmp_path: Path
) -> None:
    data = tmp_path / "data.jsonl"
    rows = [{"id": None, "prompt": "Dose?", "response": "5 mg", "rubric": [GOOD]}] * 2
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert_located(grade(judge, data, tmp_path), data, 1, "field 'id'", "null")


def test_non_utf8_line_is_located_by_line_and_byte_offset(
    judge: JudgeServer, tmp_path: Path
) -> None:
    data = tmp_path / "data.jsonl"
    first = (json.dumps(record("p1")) + "\n").encode()
    second = json.dumps(record("p2")).encode().replace(b"Take", b"T\xffke") + b"\n"
    data.write_bytes(first + second)
    offset = len(first) + second.index(b"\xff")
    assert_located(grade(judge, data, tmp_path), data, 2, f"byte 0xff at byte offset {offset}")


def test_skip_survives_a_non_utf8_line_and_counts_it(judge: JudgeServer, tmp_path: Path) -> None:
    data = tmp_path / "data.jsonl"
    lines = [json.dumps(record(f"p{i}")).encode() for i in range(3)]
    lines[1] = lines[1].replace(b"Dose", b"D\xc3\x28se")  # an invalid two-byte sequence
    data.write_bytes(b"\n".join(lines) + b"\n")
    result = grade(judge, data, tmp_path, "--on-invalid", "skip")
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["n_samples"] == 2 and summary["counts"]["skipped_lines"] == 1
    assert any("not UTF-8" in reason for reason in summary["skipped"])


def test_utf16_file_is_refused_as_a_whole(judge: JudgeServer, tmp_path: Path) -> None:
    data = tmp_path / "data.jsonl"
    data.write_bytes((json.dumps(record()) + "\n").encode("utf-16"))
    assert_located(grade(judge, data, tmp_path), data, 1, "UTF-16")


def test_utf8_byte_order_mark_is_accepted(judge: JudgeServer, tmp_path: Path) -> None:
    data = tmp_path / "data.jsonl"
    data.write_bytes(b"\xef\xbb\xbf" + (json.dumps(record()) + "\n").encode())
    result = grade(judge, data, tmp_path)
    assert result.exit_code == 0, result.output


def test_non_utf8_responses_file_is_located(judge: JudgeServer, tmp_path: Path) -> None:
    data = tmp_path / "data.jsonl"
    data.write_text(json.dumps({**record(), "response": None}) + "\n")
    answers = tmp_path / "answers.jsonl"
    answers.write_bytes(b'{"sample_id": "p1", "response": "caf\xe9"}\n')
    result = grade(judge, data, tmp_path, "--responses", str(answers))
    assert_located(result, answers, 1, "not UTF-8", "byte offset 36")


def test_responses_of_the_wrong_type_are_located(judge: JudgeServer, tmp_path: Path) -> None:
    data = tmp_path / "data.jsonl"
    data.write_text(json.dumps({**record(), "response": None}) + "\n")
    answers = tmp_path / "answers.jsonl"
    answers.write_text('{"sample_id": "p1", "response": ["5 mg"]}\n')
    result = grade(judge, data, tmp_path, "--responses", str(answers))
    assert_located(result, answers, 1, "field 'response'", "must be a string")


def test_unknown_format_is_refused(judge: JudgeServer, tmp_path: Path) -> None:
    data = tmp_path / "data.jsonl"
    data.write_text(json.dumps(record()) + "\n")
    before = judge.requests
    result = grade(judge, data, tmp_path, "--format", "healthbnech")
    # The CLI refuses it as a choice (naming the value and the flag) before anything is read.
    assert result.exit_code == 2 and "'healthbnech' is not one of" in result.output
    assert "--format" in result.output and "Traceback" not in result.output
    assert judge.requests == before


def test_an_overlong_line_is_located_and_reading_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rubricate.formats import _records, read_samples
    from rubricate.types import Sample

    monkeypatch.setattr(_records, "MAX_LINE_BYTES", 4 * 1024 * 1024)
    data = tmp_path / "data.jsonl"
    lines = [record("p1"), record("p2", response="x" * 9 * 1024 * 1024), record("p3")]
    data.write_text("".join(json.dumps(r) + "\n" for r in lines))
    items = list(read_samples(data))
    assert [i.id for i in items if isinstance(i, Sample)] == ["p1", "p3"]
    error = items[1]
    assert isinstance(error, InputError) and error.line == 2 and "longer than 4 MiB" in str(error)


def test_parquet_rows_get_the_same_checks(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    from rubricate.formats import read_samples
    from rubricate.types import Sample

    def row(index: int, points: float) -> dict[str, Any]:
        return {
            "prompt": [{"role": "user", "content": "Explain gravity."}],
            "reward_model": {"rubrics": [{"criterion": "Mentions mass", "points": points}]},
            "extra_info": {"index": index},
            "response": "Mass attracts mass.",
        }

    path = tmp_path / "d.parquet"
    rows = [row(1, 4.0), row(2, float("nan")), row(1, 3.0), row(3, float("inf"))]
    pq.write_table(pa.Table.from_pylist(rows), path)
    items = list(read_samples(path))
    assert isinstance(items[0], Sample) and items[0].id == "1"
    errors = {item.line: str(item) for item in items if isinstance(item, InputError)}
    assert set(errors) == {2, 3, 4}
    assert "reward_model.rubrics[0].points" in errors[2] and "nan" in errors[2]
    assert "appears twice (lines 1 and 3)" in errors[3]
    assert "inf" in errors[4]
