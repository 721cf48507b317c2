"""Juries and calibration from the command line, against several loopback judge servers."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from rubricate.cli import app
from tests.helpers import healthbench_line, write_jsonl
from tests.support.judge_server import JudgeServer

runner = CliRunner()

CRITERIA = [
    ("Gives the dose", 7, ["axis:accuracy"]),
    ("Mentions missing info", 5, ["axis:completeness"]),
    ("Suggests a doctor", 10, ["axis:completeness"]),
    ("States a pitfall", -6, ["axis:accuracy"]),
]


def dataset(tmp_path, n=6):
    lines = [healthbench_line(f"p{i}", CRITERIA, response=f"Take {i} mg.") for i in range(n)]
    return write_jsonl(tmp_path / "data.jsonl", lines)


def says_met_unless(*words):
    return lambda _id, text, _msg: "not_met" if any(w in text for w in words) else "met"


def grade(tmp_path, data, out, *extra):
    return runner.invoke(
        app,
        ["grade", str(data), "--out", str(tmp_path / out), "--cache", str(tmp_path / "c.sqlite"),
         "--quiet", *extra],
    )  # fmt: skip


def test_grade_with_a_jury_file_keeps_votes_and_reports_agreement(tmp_path) -> None:
    data = dataset(tmp_path)
    with (
        JudgeServer(decide=says_met_unless("pitfall")) as a,
        JudgeServer(decide=says_met_unless("pitfall", "missing")) as b,
        JudgeServer(decide=says_met_unless("pitfall", "missing", "doctor")) as c,
    ):
        jury = tmp_path / "jury.toml"
        jury.write_text(
            'rule = "majority"\n'
            + "".join(
                f'[[judges]]\nurl = "{s.url}"\nmodel = "m{i}"\nweight = 1.0\n'
                for i, s in enumerate((a, b, c))
            )
        )
        result = grade(tmp_path, data, "run", "--jury", str(jury))
        assert result.exit_code == 0, result.output
        requests = [a.requests, b.requests, c.requests]
        assert requests == [24, 24, 24]
        again = grade(tmp_path, data, "run2", "--jury", str(jury))
        assert again.exit_code == 0, again.output
        assert [a.requests, b.requests, c.requests] == requests  # every judge's own cache key
        shown = runner.invoke(
            app,
            ["grade", str(data), "--out", str(tmp_path / "run3"), "--cache",
             str(tmp_path / "c.sqlite"), "--jury", str(jury)],
        )  # fmt: skip
        said = " ".join(shown.output.split())
        assert "jury majority: Fleiss / Krippendorff │ 0.333 / 0.343" in said, said
        assert "agrees with the jury 0.750, 0 calls" in said
    lines = [json.loads(x) for x in (tmp_path / "run" / "results.jsonl").read_text().splitlines()]
    verdicts = {r["criterion"]: r for r in lines[0]["verdicts"]}
    assert verdicts["Mentions missing info"]["verdict"] == "not_met"  # 1 met vs 2 not
    assert verdicts["Suggests a doctor"]["verdict"] == "met"  # 2 met vs 1 not
    assert [v["verdict"] for v in verdicts["Suggests a doctor"]["jury"]] == [
        "met",
        "met",
        "not_met",
    ]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    agreement = summary["jury"]
    assert agreement["rule"] == "majority" and agreement["criteria"] == 24
    # Per sample: (m,m,m), (m,n,n), (m,m,n), (n,n,n); kappa by hand.
    p_bar = (1 + 1 / 3 + 1 / 3 + 1) / 4
    p_met = 6 / 12
    expected = (p_bar - (p_met**2 + (1 - p_met) ** 2)) / (1 - (p_met**2 + (1 - p_met) ** 2))
    assert abs(agreement["fleiss_kappa"] - expected) < 1e-9
    members = list(agreement["judges"].values())
    assert [m["agreement_with_jury"] for m in members] == [0.75, 1.0, 0.75]
    assert [m["calls"] for m in members] == [24, 24, 24]
    assert all(m["tokens"]["prompt"] > 0 for m in members)
    assert summary["counts"]["judge_calls"] == 72
    second = json.loads((tmp_path / "run2" / "summary.json").read_text())
    assert second["counts"]["cache_hits"] == 72 and second["counts"]["judge_calls"] == 0


def test_a_bad_jury_file_is_located_and_exits_2(tmp_path) -> None:
    data = dataset(tmp_path, 1)
    jury = tmp_path / "jury.json"
    jury.write_text(
        '{\n  "rule": "majority",\n  "judges": [\n'
        '    {"url": "http://127.0.0.1:9/v1", "model": "a"},\n'
        '    {"url": "http://127.0.0.1:9/v1", "model": "b",\n     "weight": -1}\n  ]\n}\n'
    )
    result = grade(tmp_path, data, "run", "--jury", str(jury))
    assert result.exit_code == 2
    said = " ".join(result.output.split())
    assert "jury.json:6, field 'judges.1.weight': Input should be greater than 0" in said
    assert "Traceback" not in said
    jury.write_text('{"judges": [{"model": "a"}, {"local_model": "x"}], "rule": "majority"}')
    result = grade(tmp_path, data, "run", "--jury", str(jury))
    said = " ".join(result.output.split())
    assert result.exit_code == 2 and "jury.json:1, field 'judges.0': needs either" in said


def test_calibrate_then_grade_with_the_calibration(tmp_path) -> None:
    data = dataset(tmp_path)
    labels = write_jsonl(
        tmp_path / "labels.jsonl",
        [
            {"sample_id": f"p{i}", "criterion": text, "label": (i + k) % 3 != 0}
            for i in range(6)
            for k, (text, _, _) in enumerate(CRITERIA)
        ],
    )
    with JudgeServer(decide=says_met_unless("pitfall")) as server:
        judge = ["--judge-url", server.url, "--judge-model", "m", "--probabilities"]
        assert grade(tmp_path, data, "run", *judge).exit_code == 0
        out = tmp_path / "calibration.json"
        fitted = runner.invoke(
            app, ["calibrate", str(tmp_path / "run"), "--labels", str(labels), "-o", str(out),
                  "--folds", "3", "--json"],
        )  # fmt: skip
        assert fitted.exit_code == 0, fitted.output
        report = json.loads(fitted.output)
        (fingerprint,) = report["judges"]
        assert report["points"][fingerprint] == 24
        assert report["judges"][fingerprint]["held_out"]["folds"] == 3
        calls = server.requests
        calibrated = grade(tmp_path, data, "cal", *judge, "--calibration", str(out))
        assert calibrated.exit_code == 0, calibrated.output
        assert server.requests == calls  # the cache holds the judge's own verdicts
    line = json.loads((tmp_path / "cal" / "results.jsonl").read_text().splitlines()[0])
    assert line["judge"].endswith("+calibration:" + report["digest"])
    record = line["verdicts"][0]
    assert record["raw_probability"] is not None
    threshold = report["judges"][fingerprint]["threshold"]
    assert record["verdict"] == ("met" if record["probability"] >= threshold else "not_met")
    # A run graded with a calibration is not calibrated again.
    refused = runner.invoke(
        app, ["calibrate", str(tmp_path / "cal"), "--labels", str(labels), "-o", str(out)]
    )
    said = " ".join(refused.output.split())
    assert refused.exit_code == 2 and "graded with a calibration" in said
