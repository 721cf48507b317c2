"""``meta-eval criteria`` and ``meta-eval scores`` on hand-written runs and labels."""

from __future__ import annotations

from pathlib import Path

import pytest
from scipy import stats

from rubricate.errors import InputError
from rubricate.meta import meta_eval_criteria, meta_eval_scores
from tests.meta.runs import result, verdict, write_jsonl, write_run


@pytest.fixture
def run(tmp_path: Path) -> Path:
    return write_run(
        tmp_path / "run",
        [
            result(
                "s1",
                [
                    verdict("a", "met", tags=["axis:accuracy"]),
                    verdict("b", "not_met", tags=["axis:completeness"]),
                    verdict(
                        "c",
                        "met",
                        text="Advises  calling emergency services",
                        tags=["axis:accuracy"],
                    ),
                    verdict("d", "error"),
                ],
                tags=["theme:emergency"],
            ),
            result(
                "s2",
                [verdict("a", "not_met", tags=["axis:accuracy"]), verdict("b", "met")],
                tags=["theme:hedging"],
            ),
        ],
    )


def test_agreement_overall_per_axis_and_tag(tmp_path: Path, run: Path) -> None:
    labels = write_jsonl(
        tmp_path / "labels.jsonl",
        [
            {"sample_id": "s1", "criterion_id": "a", "label": True},
            {"sample_id": "s1", "criterion_id": "b", "label": True},
            {"sample_id": "s1", "criterion": "advises calling emergency services", "label": True},
            {"sample_id": "s2", "criterion_id": "a", "label": False},
            {"sample_id": "s2", "criterion_id": "b", "label": False},
        ],
    )
    report = meta_eval_criteria(run, labels, n_resamples=50)
    overall = report.overall
    assert (overall.n_items, overall.n_labels) == (5, 5)
    # judge met: a, c (s1), b (s2); labels met: a, b, c (s1). tp=2 fp=1 fn=1 tn=1.
    assert overall.metrics["accuracy"].value == pytest.approx(3 / 5)
    assert overall.metrics["precision_met"].value == pytest.approx(2 / 3)
    assert overall.metrics["recall_met"].value == pytest.approx(2 / 3)
    assert overall.metrics["leniency"].value == pytest.approx(0.0)
    assert report.by_axis["accuracy"].n_items == 3
    assert report.by_axis["accuracy"].metrics["accuracy"].value == 1.0
    assert report.by_tag["theme:emergency"].n_items == 3
    assert report.by_tag["theme:hedging"].metrics["accuracy"].value == pytest.approx(0.5)
    assert report.unmatched == []
    assert report.labellers is None
    assert report.unlabelled_verdicts == 1  # d (an error, unlabelled)


def test_unmatched_labels_are_counted_and_listed(tmp_path: Path, run: Path) -> None:
    labels = write_jsonl(
        tmp_path / "labels.jsonl",
        [
            {"sample_id": "s1", "criterion_id": "a", "label": True},
            {"sample_id": "nope", "criterion_id": "a", "label": True},
            {"sample_id": "s2", "criterion": "not in the rubric", "label": False},
            {"sample_id": "s1", "criterion_id": "d", "label": False},
        ],
    )
    report = meta_eval_criteria(run, labels, n_resamples=0)
    assert [(u.line, u.sample_id, u.criterion) for u in report.unmatched] == [
        (2, "nope", "a"),
        (3, "s2", "not in the rubric"),
    ]
    assert "no sample" in report.unmatched[0].reason
    assert report.excluded == {"error": 1}
    assert report.overall.n_items == 1
    assert report.as_dict()["unmatched"]["count"] == 2


def test_several_labellers_pairwise_majority_and_their_own_agreement(
    tmp_path: Path, run: Path
) -> None:
    labels = write_jsonl(
        tmp_path / "labels.jsonl",
        [
            {"sample_id": "s1", "criterion_id": "a", "labels": [True, True, False]},
            {"sample_id": "s1", "criterion_id": "b", "label": True, "labeller": "p1"},
            {"sample_id": "s1", "criterion_id": "b", "label": False, "labeller": "p2"},
        ],
    )
    pairwise = meta_eval_criteria(run, labels, n_resamples=0)
    # a: met vs T,T,F; b: not_met vs T,F -> tp=2 fp=1 fn=1 tn=1
    assert pairwise.overall.n_labels == 5
    assert pairwise.overall.metrics["accuracy"].value == pytest.approx(3 / 5)
    majority = meta_eval_criteria(run, labels, combine="majority", n_resamples=0)
    assert majority.tied_items == 1  # b splits 1-1
    assert majority.overall.n_items == 1
    assert majority.overall.metrics["accuracy"].value == 1.0
    # labellers against each other: a has 6 ordered label pairs, 2 agreeing; b has 2, 0 agreeing
    assert pairwise.labellers is not None
    assert pairwise.labellers.metrics["accuracy"].value == pytest.approx(2 / 8)


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ({"sample_id": "s1", "criterion_id": "a", "label": "yes"}, "label"),
        ({"sample_id": "s1", "criterion_id": "a", "label": 1}, "label"),
        ({"sample_id": "s1", "label": True}, None),
        ({"criterion_id": "a", "label": True}, "sample_id"),
    ],
)
def test_bad_label_lines_name_file_line_and_field(
    tmp_path: Path, run: Path, line: dict, field: str | None
) -> None:
    labels = write_jsonl(
        tmp_path / "labels.jsonl", [{"sample_id": "s1", "criterion_id": "b", "label": True}, line]
    )
    with pytest.raises(InputError) as caught:
        meta_eval_criteria(run, labels)
    assert caught.value.line == 2
    assert caught.value.file == str(labels)
    assert caught.value.field == field


def test_missing_run_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"results\.jsonl"):
        meta_eval_criteria(tmp_path, tmp_path / "labels.jsonl")


def test_score_correlations_match_scipy(tmp_path: Path) -> None:
    scores = [0.1, 0.5, 0.4, 0.9, 0.7, 0.2]
    people = [1.0, 3.0, 3.0, 5.0, 4.0, 1.0]
    run = write_run(
        tmp_path / "run",
        [result(f"s{i}", [verdict("a", "met")], score=s) for i, s in enumerate(scores)]
        + [result("none", [verdict("a", "error")], score=None)],
    )
    lines = [{"sample_id": f"s{i}", "score": p} for i, p in enumerate(people)]
    lines += [
        {"sample_id": "s0", "score": 1},
        {"sample_id": "none", "score": 2.0},
        {"sample_id": "ghost", "score": 1.0},
    ]
    report = meta_eval_scores(run, write_jsonl(tmp_path / "scores.jsonl", lines), n_resamples=100)
    assert report.n_samples == 6
    assert report.spearman.value == pytest.approx(stats.spearmanr(scores, people).statistic)
    assert report.kendall.value == pytest.approx(stats.kendalltau(scores, people).statistic)
    assert report.pearson.value == pytest.approx(stats.pearsonr(scores, people).statistic)
    assert report.spearman.ci95 is not None
    assert report.unscored == 1
    assert report.multi_labelled == 1
    assert [u.sample_id for u in report.unmatched] == ["ghost"]


def test_a_boolean_is_not_a_score(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", [result("s1", [verdict("a", "met")])])
    labels = write_jsonl(tmp_path / "scores.jsonl", [{"sample_id": "s1", "score": True}])
    with pytest.raises(InputError) as caught:
        meta_eval_scores(run, labels)
    assert (caught.value.line, caught.value.field) == (1, "score")
