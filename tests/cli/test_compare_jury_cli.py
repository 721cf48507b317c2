"""``rubricate compare --jury`` against two loopback judge servers, and bad jury files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from rubricate.cli import app
from tests.cli.test_compare_cli import JUDGEBENCH, _knows_the_answers
from tests.support.judge_server import JudgeServer

runner = CliRunner()


def _always_first(body: dict[str, Any]) -> str:
    return '{"winner": "A"}'


def _compare(tmp_path: Path, jury: Path, out: str = "run") -> Any:
    return runner.invoke(
        app,
        ["compare", str(JUDGEBENCH), "--jury", str(jury), "--out", str(tmp_path / out),
         "--cache", str(tmp_path / "cache.sqlite")],
    )  # fmt: skip


def test_compare_with_a_jury_of_two_servers(tmp_path: Path) -> None:
    with (
        JudgeServer(respond=_knows_the_answers) as knows,
        JudgeServer(respond=_always_first) as first,
    ):
        jury = tmp_path / "jury.toml"
        jury.write_text(
            f'rule = "weighted"\n[[judges]]\nurl = "{knows.url}"\nmodel = "knows"\nweight = 2.0\n'
            f'name = "knows"\n[[judges]]\nurl = "{first.url}"\nmodel = "first"\nweight = 1\n'
            'name = "first"\n'
        )
        result = _compare(tmp_path, jury)
        assert result.exit_code == 0, result.output
        assert [knows.requests, first.requests] == [6, 6]
        again = _compare(tmp_path, jury, "again")
        assert again.exit_code == 0, again.output
        assert [knows.requests, first.requests] == [6, 6]  # each judge's answers are cached
    said = " ".join(result.output.split())
    assert "jury (weighted)" in said and "judge knows" in said and "judge first" in said
    assert "Fleiss' kappa -0.333" in said and "│ 0.333 │" in said  # first agrees 2 of 6
    summary = json.loads((tmp_path / "run" / "summary.json").read_text(encoding="utf-8"))
    # The heavier judge's answer stands: same figures as that judge alone.
    alone = {m["name"]: m for m in summary["jury"]["members"]}
    assert summary["accuracy"] == alone["knows"]["accuracy"] == 2 / 3
    assert alone["first"]["accuracy"] == 0.0 and alone["first"]["first_position_rate"] == 1.0
    assert alone["knows"]["agreement_with_jury"] == 1.0
    assert summary["jury"]["rule"] == "weighted" and summary["jury"]["trials"] == 6
    assert summary["counts"]["judge_calls"] == 12 and summary["judge"].startswith("jury:weighted[")
    lines = (tmp_path / "run" / "pairs.jsonl").read_text(encoding="utf-8").splitlines()
    members = json.loads(lines[0])["jury"]
    assert [m["name"] for m in members] == ["knows", "first"]
    assert all(t["raw"] for m in members for t in m["judgments"])
    repeat = json.loads((tmp_path / "again" / "summary.json").read_text(encoding="utf-8"))
    assert repeat["counts"]["judge_calls"] == 0 and repeat["counts"]["cache_hits"] == 12


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ('{"rule": "majority", "judges": [{"model": "a"}, {"url": "U", "model": "b"}]}',
         "jury.json:1, field 'judges.0'", "needs either 'url'"),
        ('{"judges": [{"url": "U", "model": "a", "weight": "2"}, {"url": "U", "model": "b"}]}',
         "field 'judges.0.weight'", "valid number"),
        ('{"judges": [{"url": "U", "model": "a", "weight": NaN}, {"url": "U", "model": "b"}]}',
         "field 'judges.0.weight'", "finite number"),
        ('{"judges": [{"url": "U", "model": "a", "weight": 0}, {"url": "U", "model": "b"}]}',
         "field 'judges.0.weight'", "greater than 0"),
        ('{"judges": [{"url": "U", "model": "a"}, {"url": "U", "model": "b"}], "rule": "best"}',
         "field 'rule'", "'majority', 'weighted', 'unanimous' or 'any'"),
        ('{"judges": [], "rule": "majority"}', "field 'judges'", "at least 2"),
        ('{"judges": [\n{"url": "U", "model": "a"},\n{"url": "U", "model": "a"}]}',
         "jury.json:3, field 'judges.1'", "the same judge as judges.0"),
        ('{"judges": [{"url": "U", "model": "a"}, {"url": "U", "model": "b"}],\n"rule": "any"}',
         "jury.json:2, field 'rule'", "rule 'any' is not usable here"),
        ("[1, 2]", "jury.json:1", "expected an object"),
    ],
)  # fmt: skip
def test_a_bad_jury_file_exits_2_naming_file_and_field(
    tmp_path: Path, text: str, where: str, message: str
) -> None:
    jury = tmp_path / "jury.json"
    jury.write_text(text, encoding="utf-8")
    result = _compare(tmp_path, jury)
    said = " ".join(result.output.split())
    assert result.exit_code == 2, said
    assert where in said and message in said, said
    assert "Traceback" not in said
