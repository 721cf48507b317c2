"""``meta-eval pairwise``: JudgeBench's rule, on its published outputs and on small cases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rubricate.errors import InputError
from rubricate.meta import JUDGEBENCH_CATEGORIES, meta_eval_pairwise, read_pairs
from tests.meta.runs import write_jsonl

DATA = Path(__file__).resolve().parents[1] / "data" / "judgebench"
O1_MINI = DATA / "arena_hard_o1-mini_gpt-4o-pairs.decisions.jsonl"
SKYWORK = DATA / "reward_model_skywork-gemma-2-27b_gpt-4o-pairs.decisions.jsonl"

# What JudgeBench reports for these judges on the 350 GPT-4o pairs, in percent: knowledge
# (mmlu-pro), reasoning, math, coding, overall. JudgeBench paper, ICLR 2025 version of
# arXiv:2410.12784: Table 2 (Arena-Hard judge, o1-mini) and Table 3 (reward models).
REPORTED = {
    O1_MINI: (58.44, 62.24, 82.14, 78.57, 65.71),
    SKYWORK: (59.74, 66.33, 83.93, 50.00, 64.29),
}


def judgebench_by_hand(path: Path, prefix: str) -> float:
    """JudgeBench's utils/metrics.py rule, written out again from its description."""
    swap = {"A>B": "B>A", "B>A": "A>B"}
    correct = total = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        pair = json.loads(line)
        if not pair["source"].startswith(prefix):
            continue
        total += 1
        first, second = pair["judgments"]
        d1 = first["decision"] if first else None
        d2 = second["decision"] if second else None
        d2 = swap.get(d2, d2)
        votes = sum((d == pair["label"]) - (d == swap[pair["label"]]) for d in (d1, d2))
        correct += votes > 0
    return 100 * correct / total


@pytest.mark.parametrize("path", [O1_MINI, SKYWORK], ids=["o1-mini", "skywork-gemma-27b"])
def test_published_outputs_give_the_reported_accuracy(path: Path) -> None:
    report = meta_eval_pairwise(path, group_prefixes=JUDGEBENCH_CATEGORIES)
    assert report.overall.n_pairs == 350
    got = [report.by_source[p].accuracy for p in JUDGEBENCH_CATEGORIES] + [report.overall.accuracy]
    assert [round(100 * g, 2) for g in got] == list(REPORTED[path])
    for prefix, accuracy in zip((*JUDGEBENCH_CATEGORIES, ""), got, strict=True):
        assert 100 * accuracy == pytest.approx(judgebench_by_hand(path, prefix))
    assert set(report.as_dict()) == {"accuracy", "n_pairs", "consistency", "by_source"}
    assert 0 < report.overall.consistency < 1


def test_full_lines_of_the_published_files_are_read() -> None:
    pairs = read_pairs(DATA / "full_lines.jsonl")
    assert len(pairs) == 3
    assert pairs[0].judgments is not None and pairs[0].judgments[0] is not None
    assert pairs[0].judgments[0].judgment is not None


def line(pair_id: str, label: str | None, *decisions: str | None, source: str = "s") -> dict:
    return {
        "pair_id": pair_id,
        "source": source,
        "label": label,
        "judgments": [{"decision": d} for d in decisions],
    }


def test_first_position_judge_scores_zero_and_oracle_one(tmp_path: Path) -> None:
    always_first = [
        line(f"p{i}", label, "A>B", "A>B") for i, label in enumerate(["A>B", "B>A"] * 3)
    ]
    report = meta_eval_pairwise(write_jsonl(tmp_path / "first.jsonl", always_first))
    assert (report.overall.accuracy, report.overall.consistency) == (0.0, 0.0)
    oracle = [
        line("p1", "A>B", "A>B", "B>A"),
        line("p2", "B>A", "B>A", "A>B"),
    ]
    report = meta_eval_pairwise(write_jsonl(tmp_path / "oracle.jsonl", oracle))
    assert (report.overall.accuracy, report.overall.consistency) == (1.0, 1.0)


def test_ties_failed_calls_and_one_sided_votes(tmp_path: Path) -> None:
    pairs = [
        line("tie", "A>B", "A=B", "A=B", source="math"),  # net 0: wrong, consistent
        line("half", "A>B", "A>B", "A=B", source="math"),  # net +1: right, inconsistent
        line("null", "A>B", "A>B", None, source="code"),  # net +1: right
        {
            "pair_id": "failed",
            "source": "code",
            "label": "B>A",
            "judgments": [None, {"decision": "A>B"}],
        },
        line("single", "B>A", "B>A", source="code"),  # one order only
        line("nolabel", None, "A>B", "B>A"),
    ]
    report = meta_eval_pairwise(write_jsonl(tmp_path / "pairs.jsonl", pairs))
    assert report.overall.n_pairs == 5
    assert report.overall.correct == 4  # half, null, failed (swapped A>B = B>A), single
    assert report.overall.ties == 1
    assert report.overall.consistency == pytest.approx(
        1 / 4
    )  # only tie agrees; single has one order
    assert report.by_source["math"].accuracy == 0.5
    assert report.unlabelled == ["nolabel"]


def test_rubricate_pairs_shape_with_orders_and_mapped_decisions(tmp_path: Path) -> None:
    pair = {
        "pair_id": "p1",
        "source": "arena",
        "label": "A>B",
        "judgments": [
            {"order": "BA", "decision": "B>A", "raw": "[[B>A]]"},
            {"order": "AB", "decision": "A>B", "raw": '{"winner": "A"}'},
        ],
        "decisions": ["A>B", "A>B"],
        "preference": "A>B",
    }
    report = meta_eval_pairwise(write_jsonl(tmp_path / "pairs.jsonl", [pair]))
    assert (report.overall.accuracy, report.overall.consistency) == (1.0, 1.0)
    wrong = {**pair, "decisions": ["B>A", "A>B"]}
    with pytest.raises(InputError) as caught:
        read_pairs(write_jsonl(tmp_path / "wrong.jsonl", [pair, wrong]))
    assert caught.value.line == 2
    assert "disagree" in str(caught.value)


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (line("p2", "A>B", "A>>B"), "judgments.0.decision"),
        (line("p2", "A=B", "A>B"), "label"),
        ({"pair_id": "p2", "label": "A>B"}, None),
        (line("p1", "A>B", "A>B"), "pair_id"),
    ],
)
def test_bad_pair_lines_name_line_and_field(tmp_path: Path, bad: dict, field: str | None) -> None:
    path = write_jsonl(tmp_path / "pairs.jsonl", [line("p1", "A>B", "A>B", "B>A"), bad])
    with pytest.raises(InputError) as caught:
        read_pairs(path)
    assert (caught.value.file, caught.value.line, caught.value.field) == (str(path), 2, field)
