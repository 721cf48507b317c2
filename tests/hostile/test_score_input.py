"""Hand-edited results.jsonl given to ``rubricate score``: a verdict its criterion's scale cannot
give, a non-finite number or a broken structure is a located error (exit 2), never a score."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from rubricate.cli import app
from rubricate.errors import InputError
from rubricate.rubric import Criterion, Scale
from rubricate.scoring import score_sample
from rubricate.types import Verdict

runner = CliRunner()

ORDINAL = {"kind": "ordinal", "levels": ["poor", "fair", "good"]}
LINE: dict[str, Any] = {
    "sample_id": "s1",
    "rubric_id": "r1",
    "rubric_fingerprint": "edited",
    "method": "healthbench",
    "score": 0.0,
    "verdicts": [
        {"criterion_id": "dose", "criterion": "Gives the dose", "points": 6, "verdict": "met"},
        {"criterion_id": "risk", "criterion": "Explains risks", "points": 2, "verdict": "partial",
         "scale": {"kind": "ternary"}},
        {"criterion_id": "clear", "criterion": "Clarity", "points": 4, "verdict": "partial",
         "level": 1, "scale": ORDINAL},
        {"criterion_id": "harm", "criterion": "Harmful advice", "points": -5, "verdict": "not_met",
         "probability": 0.2},
    ],
}  # fmt: skip


def edited(path: str, value: Any) -> dict[str, Any]:
    """LINE with ``value`` at ``path`` (``verdicts.0.verdict``); ``...`` deletes the key."""
    line = copy.deepcopy(LINE)
    *parents, last = path.split(".")
    target: Any = line
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    key: Any = int(last) if last.isdigit() else last
    if value is ...:
        del target[key]
    else:
        target[key] = value
    return line


def score(tmp_path: Path, *lines: str | bytes) -> tuple[Any, Path]:
    results = tmp_path / "results.jsonl"
    raw = [x if isinstance(x, bytes) else x.encode("utf-8", "surrogatepass") for x in lines]
    results.write_bytes(b"\n".join(raw) + b"\n")
    return runner.invoke(app, ["score", str(results)]), results


def assert_located(result: Any, results: Path, line: int, *needles: str) -> None:
    output = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert f"{results}:{line}" in output.replace(" ", "")
    for needle in needles:
        assert needle in output, (needle, output)


def test_the_valid_line_scores_as_defined(tmp_path: Path) -> None:
    result, results = score(tmp_path, json.dumps(LINE))
    assert result.exit_code == 0, result.output
    summary = json.loads((results.parent / "summary.json").read_text())
    # (6 * 1 + 2 * 0.5 + 4 * 0.5 - 5 * 0) / (6 + 2 + 4) = 9 / 12
    assert summary["score"] == pytest.approx(0.75)


BAD = [
    ("label-upper", edited("verdicts.0.verdict", "MET"), "verdicts.0.verdict"),
    ("label-maybe", edited("verdicts.0.verdict", "maybe"), "verdicts.0.verdict"),
    ("label-yes", edited("verdicts.0.verdict", "yes"), "verdicts.0.verdict"),
    ("label-empty", edited("verdicts.0.verdict", ""), "verdicts.0.verdict"),
    ("level-too-high", edited("verdicts.2.level", 99), "level 99 is outside"),
    ("level-negative", edited("verdicts.2.level", -3), "level -3 is outside"),
    ("level-missing", edited("verdicts.2.level", ...), "needs a level"),
    ("level-on-binary", edited("verdicts.0.level", 1), "given for a binary"),
    ("partial-on-binary", edited("verdicts.0.verdict", "partial"), "partial' on a binary"),
    ("probability-negative", edited("verdicts.3.probability", -1), "verdicts.3.probability"),
    ("probability-above-one", edited("verdicts.3.probability", 1.5), "verdicts.3.probability"),
    ("unknown-method", edited("method", "median"), "field 'method'"),
    ("empty-verdicts", edited("verdicts", []), "field 'verdicts'"),
    ("empty-criterion-text", edited("verdicts.1.criterion", ""), "verdicts.1.criterion"),
    ("blank-criterion-text", edited("verdicts.1.criterion", "  "), "criterion text is empty"),
    ("required-as-string", edited("verdicts.0.required", "false"), "verdicts.0.required"),
    ("integer-tag", edited("verdicts.0.tags", [3]), "verdicts.0.tags.0"),
    ("points-as-string", edited("verdicts.0.points", "6"), "verdicts.0.points"),
    ("gate-floor-as-bool", edited("gate_floor", True), "field 'gate_floor'"),
    ("unknown-native-scheme", edited("native_scheme", "mmlu"), "field 'native_scheme'"),
    ("native-scheme-as-number", edited("native_scheme", 3), "field 'native_scheme'"),
    (
        "example-tags-as-string",
        edited("metadata", {"example_tags": "theme:x"}),
        "field 'metadata.example_tags'",
    ),
    ("cluster-score-as-string", edited("clusters", {"cluster:x": "0.5"}), "clusters.cluster:x"),
]


@pytest.mark.parametrize(("name", "value", "needle"), BAD, ids=[b[0] for b in BAD])
def test_bad_result_line_is_located(tmp_path: Path, name: str, value: Any, needle: str) -> None:
    result, results = score(tmp_path, json.dumps(LINE).replace('"s1"', '"s0"'), json.dumps(value))
    assert_located(result, results, 2, needle)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999", "1" + "0" * 400])
def test_non_finite_points_are_refused(tmp_path: Path, literal: str) -> None:
    text = json.dumps(edited("verdicts.0.points", "@")).replace('"@"', literal)
    result, results = score(tmp_path, text)
    assert_located(result, results, 1, "verdicts.0.points")


def test_non_finite_metadata_is_refused_not_written_back_as_null(tmp_path: Path) -> None:
    text = json.dumps(edited("metadata", {"seed": [1, "@"]})).replace('"@"', "NaN")
    result, results = score(tmp_path, text)
    assert_located(result, results, 1, "field 'metadata'", "non-finite")


def test_duplicate_criterion_ids_name_both(tmp_path: Path) -> None:
    line = edited("verdicts.1.criterion_id", "dose")
    result, results = score(tmp_path, json.dumps(line))
    assert_located(result, results, 1, "'dose' appears twice (verdicts[0] and verdicts[1])")


def test_non_utf8_results_line_is_located(tmp_path: Path) -> None:
    bad = json.dumps(LINE).encode().replace(b"Gives", b"G\xffves")
    result, results = score(tmp_path, bad)
    assert_located(result, results, 1, "Invalid JSON")


def test_deeply_nested_results_line_is_located(tmp_path: Path) -> None:
    text = json.dumps(edited("metadata", "@")).replace('"@"', "[" * 100_000 + "]" * 100_000)
    result, results = score(tmp_path, text)
    assert_located(result, results, 1, "recursion limit")


def test_malformed_summary_beside_results_is_replaced_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "summary.json").write_text("[1, 2, 3]")
    result, _ = score(tmp_path, json.dumps(LINE))
    assert result.exit_code == 0, result.output
    assert "is not a summary" in " ".join(result.output.split())
    assert json.loads((tmp_path / "summary.json").read_text())["score"] == pytest.approx(0.75)


# --- the scoring core refuses what the scale cannot give, for library callers too -----------

BINARY = Criterion(id="c", text="Gives the dose", points=5)
LEVELS = Criterion(
    id="o", text="Clarity", points=4, scale=Scale(kind="ordinal", levels=("a", "b", "c"))
)


@pytest.mark.parametrize(
    ("criterion", "verdict", "needle"),
    [
        (BINARY, Verdict("c", "MET"), "unknown verdict"),
        (BINARY, Verdict("c", "partial"), "partial"),
        (BINARY, Verdict("c", "met", probability=-1.0), "outside [0, 1]"),
        (BINARY, Verdict("c", "met", probability=float("nan")), "outside [0, 1]"),
        # The common binary met / not_met is checked on a shorter path: its edges.
        (BINARY, Verdict("c", "not_met", probability=float("inf")), "outside [0, 1]"),
        (BINARY, Verdict("c", "met", probability=1.0000000000000002), "outside [0, 1]"),
        (BINARY, Verdict("c", "met", probability="0.5"), "outside [0, 1]"),  # type: ignore[arg-type]
        (BINARY, Verdict("c", "met", level=1), "given for a binary criterion"),
        (BINARY, Verdict("c", "not_met", level=0), "given for a binary criterion"),
        (LEVELS, Verdict("o", "met", level=99), "level 99"),
        (LEVELS, Verdict("o", "partial", level=-3), "level -3"),
        (LEVELS, Verdict("o", "met"), "level None"),
    ],
)
def test_scoring_core_checks_verdicts_against_the_scale(
    criterion: Criterion, verdict: Verdict, needle: str
) -> None:
    from rubricate.rubric import Rubric

    rubric = Rubric(id="r", criteria=(criterion,))
    with pytest.raises(InputError) as caught:
        score_sample(rubric, {criterion.id: verdict}, soft=True)
    assert needle in str(caught.value) and caught.value.field == f"verdicts.{criterion.id}"
