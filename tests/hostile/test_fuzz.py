"""Fuzzing the edges (bounded examples): whatever the bytes, only the project's own errors escape
from the readers, the results reader, the reply parser and the server's request handling."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rubricate.errors import InputError, RubricateError, VerdictError
from rubricate.formats import read_responses, read_samples
from rubricate.judge import parse_group_reply, parse_single_reply
from rubricate.rubric import Criterion, Scale
from rubricate.runs import rescore_results
from rubricate.server import RubricBook
from rubricate.server._requests import (
    GetRewardRequest,
    SamplesRequest,
    ServerError,
    decode_json,
    native_samples,
    openrlhf_samples,
    validate,
)
from rubricate.types import Sample

FUZZ = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)

KEYS = [
    "prompt_id", "prompt", "rubrics", "rubric", "criteria", "response", "completion", "id",
    "sample_id", "messages", "role", "content", "criterion", "text", "points", "weight", "tags",
    "required", "scale", "kind", "levels", "gate_floor", "verdicts", "verdict", "criterion_id",
    "level", "probability", "method", "score", "rubric_fingerprint", "samples", "query",
    "prompts", "labels", "group", "rubric_id",
]  # fmt: skip

NUMBER_LITERALS = ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1" + "0" * 400, "-0.0"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["met", "not_met", "partial", "MET", "", "ordinal", "ternary", "\ud800"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(KEYS), inner, max_size=6),
    ),
    max_leaves=30,
)
records = st.dictionaries(st.sampled_from(KEYS), values, max_size=8)


def to_line(value: Any, literal: str, nesting: int) -> bytes:
    text = json.dumps(value, allow_nan=True)
    text = text.replace("NaN", literal, 1) if "NaN" in text else text
    text = "[" * nesting + text + "]" * nesting
    return text.encode("utf-8", "surrogatepass")


lines = st.builds(
    to_line, records, st.sampled_from(NUMBER_LITERALS), st.sampled_from([0, 0, 0, 70, 5000])
)
garbage = st.binary(max_size=200)


def mutated(line: bytes, noise: bytes, at: int) -> bytes:
    cut = at % (len(line) + 1)
    return line[:cut] + noise + line[cut:]


file_lines = st.lists(
    st.one_of(lines, garbage, st.builds(mutated, lines, garbage, st.integers(0, 10_000))),
    min_size=1,
    max_size=6,
)


def write(lines: list[bytes]) -> Path:
    with tempfile.NamedTemporaryFile("wb", suffix=".jsonl", delete=False) as handle:
        handle.write(b"\n".join(line.replace(b"\n", b" ") for line in lines) + b"\n")
    return Path(handle.name)


@FUZZ
@given(file_lines, st.sampled_from(["auto", "jsonl", "healthbench"]))
def test_data_readers_yield_samples_or_located_errors(lines: list[bytes], fmt: str) -> None:
    path = write(lines)
    try:
        for item in read_samples(path, format=fmt):  # type: ignore[arg-type]
            assert isinstance(item, (Sample, InputError))
            if isinstance(item, InputError):
                assert item.file == str(path) and item.line is not None
    except InputError as error:  # a whole-file refusal (UTF-16) still names the file
        assert error.file == str(path)
    finally:
        path.unlink()


@FUZZ
@given(file_lines)
def test_responses_and_rubric_files_raise_only_input_errors(lines: list[bytes]) -> None:
    path = write(lines)
    try:
        for load in (read_responses, RubricBook.load):
            try:
                load(path)
            except InputError as error:
                assert error.file == str(path)
    finally:
        path.unlink()


@FUZZ
@given(file_lines)
def test_results_reader_raises_only_input_errors(lines: list[bytes]) -> None:
    path = write(lines)
    try:
        rescore_results([path])
    except InputError:
        pass
    finally:
        path.unlink()


CRITERIA = [
    Criterion(id="a", text="Gives the dose", points=5),
    Criterion(id="b", text="Explains risk", points=2, scale=Scale(kind="ternary")),
    Criterion(
        id="c", text="Clarity", points=3, scale=Scale(kind="ordinal", levels=("x", "y", "z"))
    ),
]
reply_parts = st.one_of(
    st.text(max_size=40),
    st.sampled_from(['{"verdict": "', "```json\n", "\n```", "> ", "<response-0123456789abcdef>"]),
    values.map(lambda v: json.dumps(v, allow_nan=True)),
    st.just("[" * 3000),
)
replies = st.lists(reply_parts, max_size=8).map("".join)


@FUZZ
@given(replies, st.text(max_size=60), st.sampled_from(CRITERIA))
def test_reply_parser_raises_only_verdict_errors(
    reply: str, shown: str, criterion: Criterion
) -> None:
    try:
        verdict = parse_single_reply(reply, criterion, {"met": 0.7, "not_met": 0.3}, shown=shown)
        assert verdict.criterion_id == criterion.id
    except VerdictError as error:
        assert error.raw == reply
    found, missing = parse_group_reply(reply, CRITERIA, shown=shown)
    assert set(found) | set(missing) == {"a", "b", "c"}


bodies = st.one_of(
    lines,
    garbage,
    st.builds(
        lambda samples: json.dumps({"samples": samples}, allow_nan=True).encode(
            "utf-8", "surrogatepass"
        ),
        st.lists(records, max_size=3),
    ),
    st.builds(
        lambda query, labels: json.dumps({"query": query, "labels": labels}, allow_nan=True).encode(
            "utf-8", "surrogatepass"
        ),
        st.lists(st.one_of(st.text(max_size=40), values), max_size=3),
        st.lists(st.one_of(values, values.map(json.dumps)), max_size=3),
    ),
)


@FUZZ
@given(bodies)
def test_server_request_handling_raises_only_http_errors(body: bytes) -> None:
    book = RubricBook({})
    for build in (
        lambda data: openrlhf_samples(validate(GetRewardRequest, data), book),
        lambda data: native_samples(validate(SamplesRequest, data), book),
    ):
        try:
            build(decode_json(body))
        except ServerError as error:
            assert 400 <= error.status < 500
        except RubricateError as error:  # pragma: no cover - shown when it happens
            raise AssertionError(f"{type(error).__name__} escaped as a 500: {error}") from error
