"""from-prompt and nuggets: what is asked, and records the grader reads back unchanged."""

from __future__ import annotations

import json

from rubricate.formats import read_healthbench
from rubricate.generate import GenerationItem, generate_rubrics, read_generation_items
from rubricate.types import JudgeRequest, Message

from .conftest import criteria_json, generation_prompts, scripted

REPLY = criteria_json(
    ("States that Paris is the capital of France.", "principle", "essential", "accuracy"),
    ("Answers in exactly one sentence.", "hard_rule", "important", "instruction_following"),
    ("Claims that Lyon is the capital of France.", "principle", "pitfall", "accuracy"),
)


def test_written_rubric_reads_back_as_the_same_rubric(tmp_path) -> None:
    source = tmp_path / "prompts.jsonl"
    source.write_text(
        json.dumps(
            {
                "prompt_id": "p1",
                "prompt": [
                    {"role": "user", "content": "Name the capital of France in one sentence."}
                ],
            }
        )
        + "\n"
    )
    result = generate_rubrics(
        read_generation_items(source), scripted([REPLY]), strategy="from-prompt"
    )
    (line,) = result.rubrics
    assert [r.points for r in line.rubrics] == [5.0, 3.0, -3.0]
    assert line.provenance.strategy == "from-prompt" and line.provenance.source_ids == ["p1"]
    assert (
        line.provenance.prompt_version.startswith("from_prompt_v1@")
        and line.provenance.model == "scripted"
    )
    out = tmp_path / "rubrics.jsonl"
    out.write_text(line.model_dump_json() + "\n")
    (sample,) = read_healthbench(out, response_source="none")
    assert sample.rubric.fingerprint == line.provenance.rubric_fingerprint
    assert sample.rubric.criteria[2].is_pitfall and sample.rubric.axes == (
        "accuracy",
        "instruction_following",
    )


def test_reference_answer_goes_into_the_prompt() -> None:
    seen: list[JudgeRequest] = []
    item = GenerationItem(
        "p1", (Message("user", "Name the capital of France."),), reference="Paris, on the Seine."
    )
    generate_rubrics([item], generation_prompts(scripted([REPLY]), seen), strategy="from-prompt")
    assert (
        "<reference-answer>\nParis, on the Seine.\n</reference-answer>"
        in seen[0].messages[1].content
    )


def test_nuggets_come_from_the_reference_only() -> None:
    reply = criteria_json(
        ("States that Paris lies on the Seine.", "nugget", "essential"),
        ("States that Paris has 2.1 million inhabitants.", "nugget", "important"),
        (
            "States that Berlin is the capital of Germany.",
            "nugget",
            "essential",
        ),  # not in the passages
    )
    item = GenerationItem(
        "n1",
        (Message("user", "Tell me about Paris."),),
        passages=("Paris lies on the Seine.", "Paris has 2.1 million inhabitants."),
    )
    result = generate_rubrics([item], scripted([reply]), strategy="nuggets")
    (line,) = result.rubrics
    assert [r.criterion for r in line.rubrics] == [
        "States that Paris lies on the Seine.",
        "States that Paris has 2.1 million inhabitants.",
    ]
    assert line.rubrics[0].tags == ["axis:completeness", "kind:nugget", "importance:essential"]
    # The scripted model repeats its reply to both re-asks: rejected three times, never kept.
    assert result.stats.rejections == {"prompt_independent": 3} and result.stats.reasks == 2


def test_nuggets_without_reference_fail_and_are_counted() -> None:
    item = GenerationItem("n1", (Message("user", "Tell me about Paris."),))
    result = generate_rubrics([item], scripted([REPLY]), strategy="nuggets")
    assert (
        result.rubrics == []
        and result.stats.failed == 1
        and "no reference" in result.stats.failures[0]
    )


def test_reader_accepts_judgebench_pairs_and_names_bad_lines(tmp_path) -> None:
    source = tmp_path / "pairs.jsonl"
    rows = [
        {
            "pair_id": "a",
            "question": "Q?",
            "response_A": "good",
            "response_B": "bad",
            "label": "A>B",
        },
        {
            "pair_id": "b",
            "question": "Q?",
            "response_A": "bad",
            "response_B": "good",
            "label": "B>A",
        },
        {"pair_id": "c", "question": "Q?", "response_A": "x", "response_B": "y", "label": "A=B"},
        {"pair_id": "d"},
    ]
    source.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    first, second, third, fourth = read_generation_items(source)
    assert (first.chosen, first.rejected, first.preferences) == ("good", "bad", ((0, 1),))
    assert (second.chosen, second.rejected) == ("good", "bad")
    assert "label" in str(third) and third.line == 3
    assert fourth.field == "prompt"
