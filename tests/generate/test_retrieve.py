"""The rubric bank: BM25 search, no self-retrieval, and examples in the generation prompt."""

from __future__ import annotations

import json

import pytest

from rubricate.errors import ConfigError, InputError
from rubricate.generate import BankEntry, GenerationItem, RubricBank, generate_rubrics
from rubricate.rubric import Criterion
from rubricate.types import JudgeRequest, Message

from .conftest import criteria_json, generation_prompts, scripted

ENTRIES = [
    BankEntry(
        "spain",
        "What is the capital city of Spain?",
        (Criterion(text="States that Madrid is the capital of Spain.", points=5),),
    ),
    BankEntry(
        "bread",
        "How do I bake sourdough bread at home?",
        (Criterion(text="Mentions feeding the sourdough starter.", points=3),),
    ),
    BankEntry(
        "italy",
        "Which city is the capital of Italy?",
        (Criterion(text="States that Rome is the capital of Italy.", points=5),),
    ),
]


def test_bm25_finds_similar_prompts_best_first() -> None:
    hits = RubricBank(ENTRIES).search("What is the capital of France?", 2)
    assert [e.id for e, _ in hits] == ["spain", "italy"]
    assert hits[0][1] >= hits[1][1]


def test_an_item_never_retrieves_itself() -> None:
    bank = RubricBank(ENTRIES)
    assert [e.id for e, _ in bank.search("What is the capital city of Spain?", 3)] == ["italy"]
    assert "spain" not in [e.id for e, _ in bank.search("capital of Spain", 3, exclude=["spain"])]


def test_no_overlap_means_no_examples() -> None:
    assert RubricBank(ENTRIES).search("zebra quantum violin", 3) == []


def test_generation_is_conditioned_on_the_retrieved_rubrics() -> None:
    seen: list[JudgeRequest] = []
    reply = criteria_json(
        ("States that Paris is the capital of France.", "principle", "essential"),
        ("Answers the capital question in one sentence.", "hard_rule", "important"),
    )
    judge = generation_prompts(scripted([reply]), seen)
    item = GenerationItem("france", (Message("user", "What is the capital of France?"),))
    result = generate_rubrics([item], judge, strategy="retrieve", bank=RubricBank(ENTRIES), k=1)
    (line,) = result.rubrics
    assert line.provenance.strategy == "retrieve" and line.provenance.source_ids == [
        "france",
        "spain",
    ]
    assert line.provenance.details["retrieved"][0]["id"] == "spain"
    prompt = seen[0].messages[1].content
    assert "<example>\nPrompt:\nWhat is the capital city of Spain?" in prompt
    assert "- [+5] States that Madrid is the capital of Spain." in prompt
    assert "sourdough" not in prompt


def test_bank_from_a_generate_output_or_healthbench_file(tmp_path) -> None:
    path = tmp_path / "bank.jsonl"
    rows = [
        {
            "prompt_id": "a",
            "prompt": [{"role": "user", "content": "Capital of Spain?"}],
            "rubrics": [{"criterion": "Says Madrid.", "points": 5, "tags": []}],
        },
        {
            "prompt_id": "b",
            "prompt": "Bake bread?",
            "rubrics": [{"criterion": "Mentions yeast.", "points": 2}],
        },
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    bank = RubricBank.from_jsonl(path)
    assert [(e.id, e.prompt, e.criteria[0].text) for e in bank.entries] == [
        ("a", "Capital of Spain?", "Says Madrid."),
        ("b", "Bake bread?", "Mentions yeast."),
    ]
    path.write_text('{"prompt_id": "c", "prompt": "x", "rubrics": []}\n')
    with pytest.raises(InputError, match=r"bank\.jsonl:1"):
        RubricBank.from_jsonl(path)


def test_retrieve_needs_a_bank() -> None:
    with pytest.raises(ConfigError):
        generate_rubrics([], scripted(["{}"]), strategy="retrieve")
