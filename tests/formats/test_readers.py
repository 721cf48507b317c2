import json

import pytest

from rubricate.errors import InputError
from rubricate.formats import detect_format, read_responses, read_samples
from rubricate.types import Sample
from tests.helpers import SHARED_DATA, healthbench_line, write_jsonl

SHARED = SHARED_DATA / "healthbench_dev.jsonl"


def test_healthbench_file_reads_with_ideal_responses() -> None:
    items = list(read_samples(SHARED, response_source="ideal"))
    samples = [i for i in items if isinstance(i, Sample)]
    errors = [i for i in items if isinstance(i, InputError)]
    assert len(samples) + len(errors) == 298
    assert errors and all(e.field == "ideal_completions_data.ideal_completion" for e in errors)
    first = samples[0]
    assert first.response and first.rubric.criteria and first.id == first.rubric.id
    assert all(c.axes for c in first.rubric.criteria) or any(c.tags for c in first.rubric.criteria)


def test_bad_lines_name_file_line_and_field(tmp_path) -> None:
    path = write_jsonl(
        tmp_path / "d.jsonl",
        [
            healthbench_line("p1", [("Says hi", 2, ["axis:accuracy"])], response="hi"),
            "{not json",
            {"prompt_id": "p3", "prompt": [{"role": "user", "content": "q"}]},
            healthbench_line("p4", [("Bad points", "five", [])]),
            json.dumps([1, 2]),
        ],
    )
    items = list(read_samples(path, format="healthbench"))
    assert isinstance(items[0], Sample)
    assert [type(i) for i in items[1:]] == [InputError] * 4
    assert items[1].line == 2 and "not valid JSON" in str(items[1])
    assert items[2].line == 3 and items[2].field == "rubrics"
    assert items[3].line == 4 and "points" in str(items[3])
    assert str(items[2]).startswith(f"{path}:3")


def test_duplicate_criterion_texts_get_unique_ids(tmp_path) -> None:
    path = write_jsonl(
        tmp_path / "d.jsonl", [healthbench_line("p", [("Same", 1, []), ("Same", 2, [])])]
    )
    (sample,) = read_samples(path)
    ids = [c.id for c in sample.rubric.criteria]
    assert len(set(ids)) == 2


def test_generic_jsonl_with_field_mapping(tmp_path) -> None:
    path = write_jsonl(
        tmp_path / "g.jsonl",
        [
            {
                "uid": 7,
                "question": "What is 2+2?",
                "answer": "4",
                "meta": {"criteria": [{"text": "Says 4", "points": 3, "required": True}]},
            }
        ],
    )
    (sample,) = read_samples(path, fields={"rubric": "meta.criteria", "id": "uid"})
    assert sample.id == "7" and sample.response == "4"
    assert sample.rubric.criteria[0].required and sample.rubric.criteria[0].points == 3


def test_generic_missing_field_is_named(tmp_path) -> None:
    path = write_jsonl(tmp_path / "g.jsonl", [{"question": "q"}])
    (error,) = read_samples(path, fields={"rubric": "meta.criteria"})
    assert isinstance(error, InputError) and error.field == "meta.criteria" and error.line == 1


def test_verl_parquet(tmp_path) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    rows = [
        {
            "data_source": "rubric_demo",
            "prompt": [{"role": "user", "content": "Explain gravity."}],
            "reward_model": {
                "style": "rubric",
                "rubrics": [{"criterion": "Mentions mass", "points": 4, "tags": ["axis:accuracy"]}],
            },
            "extra_info": {"index": 3},
            "response": "Mass attracts mass.",
        }
    ]
    path = tmp_path / "d.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    assert detect_format(path) == "verl"
    (sample,) = read_samples(path)
    assert sample.id == "3" and sample.rubric.criteria[0].axes == ("accuracy",)
    assert (
        sample.messages[0].content == "Explain gravity."
        and sample.response == "Mass attracts mass."
    )


def test_responses_file(tmp_path) -> None:
    path = write_jsonl(
        tmp_path / "r.jsonl", [{"sample_id": "a", "response": "x"}, {"id": "b", "completion": "y"}]
    )
    assert read_responses(path) == {"a": "x", "b": "y"}
    dup = write_jsonl(tmp_path / "dup.jsonl", [{"sample_id": "a", "response": "x"}] * 2)
    with pytest.raises(InputError, match="appears twice") as caught:
        read_responses(dup)
    assert caught.value.line == 2


def test_missing_file() -> None:
    with pytest.raises(InputError, match="file not found"):
        read_samples("nope.jsonl")


def test_ruscarl_mapping_tags_become_strings(tmp_path) -> None:
    line = healthbench_line("p", [("A", 1, [])])
    line["rubrics"][0]["tags"] = {"axis": "accuracy", "level": None, "cluster": True}
    path = write_jsonl(tmp_path / "d.jsonl", [line])
    (sample,) = read_samples(path)
    assert sample.rubric.criteria[0].tags == ("axis:accuracy", "cluster")
    assert sample.rubric.axes == ("accuracy",)
