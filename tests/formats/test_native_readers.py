from __future__ import annotations

import json
from pathlib import Path

import pytest

from rubricate.errors import ConfigError, InputError
from rubricate.formats import (
    JudgePair,
    detect_format,
    read_judgebench,
    read_responses,
    read_samples,
)
from rubricate.types import Sample
from tests.helpers import SHARED_DATA, write_jsonl

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (DATA / "healthbench" / "healthbench_sample.jsonl", "healthbench"),
        (DATA / "writingbench" / "writingbench_sample.jsonl", "writingbench"),
        (DATA / "writingbench" / "writingbench_real.jsonl", "writingbench"),
        (SHARED_DATA / "writingbench_en_dev.jsonl", "writingbench"),
        (DATA / "drb2" / "tasks_and_rubrics_sample.jsonl", "drb2"),
        (DATA / "prbench" / "prbench_sample.jsonl", "prbench"),
        (DATA / "researchrubrics" / "researchrubrics_sample.jsonl", "researchrubrics"),
        (DATA / "researchqa" / "researchqa_sample.json", "researchqa"),
        (DATA / "judgebench" / "judgebench_sample.jsonl", "judgebench"),
        (DATA / "judgebench" / "judgebench_real.jsonl", "judgebench"),
        (SHARED_DATA / "judgebench_gpt-4o.jsonl", "judgebench"),
    ],
)
def test_formats_are_detected(path: Path, expected: str) -> None:
    assert detect_format(path) == expected


def test_real_writingbench_file_reads_as_banded_1_to_10_criteria() -> None:
    items = list(read_samples(SHARED_DATA / "writingbench_en_dev.jsonl"))
    assert len(items) == 200 and all(isinstance(i, Sample) for i in items)
    sample = items[0]
    assert isinstance(sample, Sample)
    criterion = sample.rubric.criteria[0]
    assert criterion.scale.kind == "ordinal" and criterion.scale.values == tuple(
        float(v) for v in range(1, 11)
    )
    record = json.loads((SHARED_DATA / "writingbench_en_dev.jsonl").open().readline())
    first = record["checklist"][0]
    assert criterion.text == f"{first['name']}: {first['criteria_description']}"
    assert criterion.scale.levels[0] == criterion.scale.levels[1] == first["1-2"]
    assert criterion.scale.levels[9] == first["9-10"]
    assert sample.id == str(record["index"]) and sample.metadata["domain1"] == record["domain1"]


def test_drb2_items_are_blocking_criteria_tagged_by_dimension() -> None:
    (sample, second) = read_samples(DATA / "drb2" / "tasks_and_rubrics_sample.jsonl")
    assert isinstance(sample, Sample) and isinstance(second, Sample)
    assert {c.scale.kind for c in sample.rubric.criteria} == {"blocking"}
    assert set(sample.rubric.axes) == {"info_recall", "analysis", "presentation"}
    assert "Title:" in sample.metadata["judge_context"]
    assert second.metadata["duplicates_dropped"] == 6
    texts = [c.text for c in second.rubric.criteria]
    assert len(texts) == len(set(texts))


def test_real_judgebench_pairs_read_for_pairwise_comparison() -> None:
    pairs = list(read_judgebench(SHARED_DATA / "judgebench_gpt-4o.jsonl"))
    assert len(pairs) == 350 and all(isinstance(p, JudgePair) for p in pairs)
    assert {p.better for p in pairs if isinstance(p, JudgePair)} == {"A", "B"}
    with pytest.raises(InputError, match="read_judgebench"):
        read_samples(SHARED_DATA / "judgebench_gpt-4o.jsonl")


def _bad(tmp_path: Path, fmt: str, record: object) -> InputError:
    path = write_jsonl(tmp_path / "bad.jsonl", [record])
    (item,) = read_samples(path, format=fmt)  # type: ignore[arg-type]
    assert isinstance(item, InputError) and item.file == str(path) and item.line == 1
    return item


def test_bad_native_records_name_line_and_field(tmp_path: Path) -> None:
    band = {
        "name": "N",
        "criteria_description": "D",
        "1-2": "a",
        "3-4": "b",
        "5-6": "c",
        "7-8": "d",
    }
    error = _bad(tmp_path, "writingbench", {"index": 1, "query": "q", "checklist": [band]})
    assert error.field == "checklist[0].9-10"
    error = _bad(
        tmp_path,
        "drb2",
        {
            "idx": 1,
            "prompt": "p",
            "content": {"rubric": {"recall": ["x"]}, "blocked": {"title": "t"}},
        },
    )
    assert "unknown dimensions: recall" in str(error)
    error = _bad(
        tmp_path,
        "prbench",
        {
            "task": "t",
            "prompt_0": "p",
            "rubric": [{"id": "a", "title": "T", "annotations": {"weight_class": "important"}}],
        },
    )
    assert error.field == "rubric[0].annotations.important_weight"
    error = _bad(
        tmp_path,
        "researchrubrics",
        {"sample_id": "s", "prompt": "p", "rubrics": [{"criterion": "c"}]},
    )
    assert error.field == "rubrics[0].weight"
    path = write_jsonl(
        tmp_path / "pairs.jsonl",
        [{"pair_id": "1", "question": "q", "response_A": "a", "response_B": "b", "label": "A=B"}],
    )
    (pair,) = read_judgebench(path)
    assert isinstance(pair, InputError) and "label" in str(pair)


def test_researchqa_array_items_are_located_by_position(tmp_path: Path) -> None:
    path = tmp_path / "rq.json"
    path.write_text(
        json.dumps(
            [{"id": "a", "query": "q", "rubric": [{"rubric_item": "r"}]}, {"id": "b", "query": "q"}]
        )
    )
    first, second = read_samples(path)
    assert isinstance(first, Sample) and first.rubric.criteria[0].scale.values == (1, 2, 3, 4, 5)
    assert isinstance(second, InputError) and second.line == 2 and second.field == "rubric"


# Each native reader, its sample file and the field its sample id comes from.
NATIVE_IDS = [
    ("writingbench", DATA / "writingbench" / "writingbench_sample.jsonl", "index"),
    ("drb2", DATA / "drb2" / "tasks_and_rubrics_sample.jsonl", "idx"),
    ("prbench", DATA / "prbench" / "prbench_sample.jsonl", "task"),
    ("researchrubrics", DATA / "researchrubrics" / "researchrubrics_sample.jsonl", "sample_id"),
    ("healthbench", DATA / "healthbench" / "healthbench_sample.jsonl", "prompt_id"),
]


@pytest.mark.parametrize(("fmt", "source", "field"), NATIVE_IDS, ids=[c[0] for c in NATIVE_IDS])
def test_native_jsonl_readers_refuse_an_id_given_twice(
    tmp_path: Path, fmt: str, source: Path, field: str
) -> None:
    first, second = source.read_text("utf-8").splitlines()[:2]
    path = write_jsonl(tmp_path / "twice.jsonl", [first, second, first])
    for chosen in (fmt, "auto"):  # named or detected, the same reader refuses it
        items = list(read_samples(path, format=chosen))  # type: ignore[arg-type]
        assert [type(item) for item in items] == [Sample, Sample, InputError], chosen
        error = items[2]
        assert isinstance(error, InputError)
        ident = json.loads(first)[field]
        assert (error.file, error.line, error.field) == (str(path), 3, field)
        assert error.reason == f"sample id '{ident}' appears twice (lines 1 and 3)"
        assert str(error).startswith(f"{path}:3, field '{field}': ")


def test_writingbench_index_as_number_and_as_string_is_one_id(tmp_path: Path) -> None:
    # Both become sample id "9001": results and --responses would not tell them apart.
    record = json.loads(NATIVE_IDS[0][1].read_text("utf-8").splitlines()[0])
    path = write_jsonl(tmp_path / "twice.jsonl", [record, {**record, "index": "9001"}])
    _, error = read_samples(path, format="writingbench")
    assert isinstance(error, InputError) and error.field == "index" and error.line == 2
    assert error.reason == "sample id '9001' appears twice (lines 1 and 2)"


def test_researchqa_refuses_an_id_given_twice_by_array_position_or_line(tmp_path: Path) -> None:
    records = json.loads((DATA / "researchqa" / "researchqa_sample.json").read_text("utf-8"))
    # The same id on different content: the second would shadow the first's results.
    again = {**records[1], "id": records[0]["id"]}
    array = tmp_path / "twice.json"
    array.write_text(json.dumps([records[0], records[1], again]), encoding="utf-8")
    items = list(read_samples(array))
    assert [type(item) for item in items] == [Sample, Sample, InputError]
    error = items[2]
    assert isinstance(error, InputError)
    assert (error.file, error.line, error.field) == (str(array), 3, "id")
    assert error.reason == "sample id 'rq-0001' appears twice (items 1 and 3)"
    jsonl = write_jsonl(tmp_path / "twice.jsonl", [records[0], again])
    _, error = read_samples(jsonl, format="researchqa")
    assert isinstance(error, InputError) and (error.line, error.field) == (2, "id")
    assert error.reason == "sample id 'rq-0001' appears twice (lines 1 and 2)"


def test_generic_mapping_reaches_inside_criteria(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "g.jsonl",
        [
            {
                "uid": "s1",
                "question": "Q?",
                "items": [
                    {"name": "Cites a source", "w": 3, "labels": ["axis:evidence"]},
                    {"name": "Is rude", "w": -2, "bands": ["never", "sometimes", "always"]},
                ],
            },
            {"uid": "s2", "question": "Q?", "items": ["Mentions X", "Mentions Y"]},
            {
                "uid": "s3",
                "question": "Q?",
                "items": {"recall": ["Names A"], "style": [{"name": "Short", "w": 1}]},
            },
        ],
    )
    fields = {
        "id": "uid",
        "prompt": "question",
        "rubric": "items",
        "criterion.text": "name",
        "criterion.points": "w",
        "criterion.tags": "labels",
        "criterion.levels": "bands",
    }
    one, two, three = read_samples(path, fields=fields)
    assert isinstance(one, Sample) and isinstance(two, Sample) and isinstance(three, Sample)
    first, second = one.rubric.criteria
    assert (first.text, first.points, first.tags) == ("Cites a source", 3.0, ("axis:evidence",))
    assert second.points == -2.0 and second.scale.levels == ("never", "sometimes", "always")
    assert [(c.text, c.points) for c in two.rubric.criteria] == [
        ("Mentions X", 1.0),
        ("Mentions Y", 1.0),
    ]
    assert [(c.text, c.tags) for c in three.rubric.criteria] == [
        ("Names A", ("axis:recall",)),
        ("Short", ("axis:style",)),
    ]
    with pytest.raises(ConfigError, match=r"criterion\.colour"):
        read_samples(path, fields={"criterion.colour": "c"})


def test_verl_rows_take_ids_from_a_mapped_field_and_rubrics_from_either_place(
    tmp_path: Path,
) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    pa = pytest.importorskip("pyarrow")
    rubric = json.dumps([{"criterion": "Says hi", "points": 1}])
    table = pa.Table.from_pylist(
        [
            {
                "prompt": [{"role": "user", "content": "hi"}],
                "reward_model": {"rubrics": rubric},
                "extra_info": {"qid": "q1"},
            },
            {
                "prompt": [{"role": "user", "content": "yo"}],
                "reward_model": {"rubrics": None},
                "extra_info": {"qid": "q2", "reward_model": {"rubrics": rubric}},
            },
        ]
    )
    path = tmp_path / "rows.parquet"
    pq.write_table(table, path)
    plain = [s.id for s in read_samples(path) if isinstance(s, Sample)]
    assert plain == ["row-1", "row-2"]
    mapped = list(read_samples(path, fields={"id": "extra_info.qid"}))
    assert [s.id for s in mapped if isinstance(s, Sample)] == ["q1", "q2"]


def test_benchmark_response_files_key_answers_by_their_own_ids(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "r.jsonl",
        [{"index": 9001, "response": "plan"}, {"idx": 2, "response": "report"}],
    )
    assert read_responses(path) == {"9001": "plan", "2": "report"}
    with pytest.raises(ConfigError, match="unknown format 'csv'"):
        read_samples(path, format="csv")  # type: ignore[arg-type]
