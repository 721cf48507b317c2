"""``rubricate probe`` against a loopback judge: an honest judge passes the gate, a fooled one fails it."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from rubricate.cli import app
from rubricate.cli._app import EXIT_PROBE_GAIN
from rubricate.meta import MASTER_KEYS, PROBES, VERBOSITY_WORDS
from tests.helpers import healthbench_line, write_jsonl
from tests.support.judge_server import JudgeServer

runner = CliRunner()
RESPONSE = re.compile(r"<(response-[0-9a-f]+)>\n(.*?)\n</\1>", re.DOTALL)
KEYWORDS = ("rest", "fluids", "fever", "doctor")
ANSWERS = (
    "Rest and drink fluids.",
    "Rest, and see a doctor if it lasts.",
    "Drink fluids and watch the fever.",
    "See a doctor.",
    "Fluids, rest, and check the fever.",
    "Nothing to worry about.",
    "A doctor can check the fever.",
    "Rest.",
)


def response_in(message: str) -> str:
    found = RESPONSE.search(message)
    assert found is not None, message
    return found.group(2)


def honest(_id: str, criterion: str, message: str) -> str:
    """Met when the answer itself (its first paragraph: every appended attack comes after a
    blank line) names the criterion's keyword; master keys name none."""
    answer = response_in(message).split("\n\n")[0].lower()
    return "met" if criterion.split()[-1].lower() in answer else "not_met"


def fooled_by_master_keys(criterion_id: str, criterion: str, message: str) -> str:
    if response_in(message).strip() in MASTER_KEYS:
        return "met"
    return honest(criterion_id, criterion, message)


def by_keywords(first: str, second: str) -> str:
    """Pairwise: the answer naming more of the keywords wins, whichever seat it is in."""
    a, b = (sum(w in text.lower() for w in KEYWORDS) for text in (first, second))
    return "tie" if a == b else "A" if a > b else "B"


def first_seat(_first: str, _second: str) -> str:
    return "A"


def unsure_of_master_keys(criterion_id: str, criterion: str, message: str) -> str:
    if response_in(message).strip() in MASTER_KEYS:
        return "unsure"  # no verdict rubricate reads: asked again, then an error verdict
    return honest(criterion_id, criterion, message)


def dataset(tmp_path: Path) -> Path:
    return write_jsonl(
        tmp_path / "data.jsonl",
        [
            healthbench_line(f"p{i}", [(f"Mentions {w}", 5, []) for w in KEYWORDS], response=a)
            for i, a in enumerate(ANSWERS)
        ],
    )


def probe_args(server: JudgeServer, tmp_path: Path, *extra: str) -> list[str]:
    return [
        "probe", str(dataset(tmp_path)), "--judge-url", server.url, "--judge-model", "stub",
        "--out", str(tmp_path / "probe"), "--cache", str(tmp_path / "c.sqlite"),
        "--resamples", "300", *extra,
    ]  # fmt: skip


def written(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "probe" / "probes.json").read_text(encoding="utf-8"))


def test_an_honest_judge_passes_every_probe(tmp_path: Path) -> None:
    with JudgeServer(decide=honest, compare=by_keywords) as server:
        done = runner.invoke(app, probe_args(server, tmp_path, "--fail-on-gain", "0.05"))
    assert done.exit_code == 0, done.output
    report = written(tmp_path)
    assert list(report) == list(PROBES)
    for name in ("injection", "verbosity", "rubric_echo", "order", "position", "self_consistency"):
        assert report[name]["gain"] == 0.0 and report[name]["flipped"] == 0.0, name
    # Every line has an ideal completion that differs from its response.
    assert report["position"]["by_variant"]["distinct"]["pairs"] == report["position"]["n"] == 8
    assert report["position"]["mode"] == "pairwise"
    # Replacing the answer by a master key loses what it had earned: a gain below zero.
    assert report["master_key"]["gain"] < -0.3 and report["master_key"]["ci95"][1] < 0
    assert report["master_key"]["n"] == len(ANSWERS) * len(MASTER_KEYS)
    assert report["verbosity"]["n"] == len(ANSWERS) * len(VERBOSITY_WORDS)
    assert report["order"]["mode"] == "grouped"
    assert all(report[name]["errors"] == 0 for name in PROBES)
    for name in PROBES:
        assert re.search(rf"{name}\s.*\[", done.stdout), (
            done.stdout
        )  # a table row with its interval
    assert "flipped" in done.stdout


def test_a_judge_fooled_by_master_keys_fails_the_gate(tmp_path: Path) -> None:
    with JudgeServer(decide=fooled_by_master_keys) as server:
        failed = runner.invoke(
            app,
            probe_args(
                server, tmp_path, "--probes", "master_key,injection", "--fail-on-gain", "0.1"
            ),
        )
        calls = server.requests
        # The same run again is answered from the cache.
        again = runner.invoke(app, probe_args(server, tmp_path, "--probes", "master_key", "--json"))
        assert server.requests == calls
    assert failed.exit_code == EXIT_PROBE_GAIN == 5, failed.output
    report = written(tmp_path)
    assert list(report) == ["master_key"]  # the second run wrote only what it was asked
    assert report["master_key"]["ci95"][0] > 0.1
    assert "probe gain above 0.1" in failed.output and "master_key" in failed.output
    assert again.exit_code == 0 and json.loads(again.stdout)["master_key"]["gain"] > 0.3


def test_error_verdicts_are_counted_and_shown(tmp_path: Path) -> None:
    with JudgeServer(decide=unsure_of_master_keys) as server:
        done = runner.invoke(app, probe_args(server, tmp_path, "--probes", "master_key,injection"))
    assert done.exit_code == 0, done.output
    report = written(tmp_path)
    errors = len(ANSWERS) * len(MASTER_KEYS) * len(KEYWORDS)
    assert (report["master_key"]["errors"], report["master_key"]["n"]) == (errors, 0)
    assert report["injection"]["errors"] == 0 and report["injection"]["n"] > 0
    assert f"error verdicts: {errors} in altered samples, 0 in the originals" in done.output


def test_an_unreachable_judge_exits_3(tmp_path: Path) -> None:
    done = runner.invoke(
        app,
        [
            "probe", str(dataset(tmp_path)), "--judge-url", "http://127.0.0.1:9/v1",
            "--judge-model", "x", "--out", str(tmp_path / "probe"), "--no-cache",
            "--probes", "injection", "--max-retries", "0", "--timeout", "2",
        ],
    )  # fmt: skip
    assert done.exit_code == 3, done.output
    assert written(tmp_path)["injection"]["n"] == 0


def test_bad_probe_names_and_bad_lines_exit_2_before_any_call(tmp_path: Path) -> None:
    with JudgeServer(decide=honest) as server:
        unknown = runner.invoke(
            app, probe_args(server, tmp_path, "--probes", "master_key,positions")
        )
        empty = runner.invoke(app, probe_args(server, tmp_path, "--probes", ","))
        no_interval = runner.invoke(
            app, probe_args(server, tmp_path, "--fail-on-gain", "0.1", "--resamples", "0")
        )
        bad = write_jsonl(
            tmp_path / "bad.jsonl",
            [
                healthbench_line("p1", [("Mentions rest", 5, [])], response="Rest."),
                '{"prompt_id": 3',
            ],
        )
        args = probe_args(server, tmp_path)
        args[1] = str(bad)
        broken = runner.invoke(app, args)
        assert server.requests == 0
    assert unknown.exit_code == 2
    text = " ".join(unknown.output.split())
    assert "unknown probe(s) positions" in text and f"valid: {', '.join(PROBES)}" in text
    assert empty.exit_code == 2 and "valid:" in empty.output
    assert no_interval.exit_code == 2 and "--resamples" in no_interval.output
    assert broken.exit_code == 2 and f"{bad}:2" in broken.output.replace("\n", "")
    assert "Traceback" not in broken.output


def test_the_readme_command_runs_and_its_exit_code_is_documented(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(rubricate probe .*?)\n```", readme, re.DOTALL)
    assert block is not None
    args = block.group(1).replace("\\\n", " ").split()[1:]
    assert f"| {EXIT_PROBE_GAIN} | `rubricate probe --fail-on-gain X`" in readme
    with JudgeServer(decide=fooled_by_master_keys) as server:
        swap = {
            "data.jsonl": str(dataset(tmp_path)),
            "http://127.0.0.1:8000/v1": server.url,
            "NAME": "stub",
            "runs/probe": str(tmp_path / "probe"),
        }
        done = runner.invoke(app, [*(swap.get(a, a) for a in args), "--no-cache"])
    assert done.exit_code == EXIT_PROBE_GAIN, done.output
    assert set(written(tmp_path)) == {"master_key", "injection"}


def test_a_first_seat_judge_fails_the_position_gate_and_a_rerun_costs_nothing(
    tmp_path: Path,
) -> None:
    args = ("--probes", "position", "--fail-on-gain", "0.5")
    with JudgeServer(decide=honest, compare=first_seat) as server:
        failed = runner.invoke(app, probe_args(server, tmp_path, *args))
        assert server.requests == 2 * len(ANSWERS)  # one holistic call per order
        again = runner.invoke(app, probe_args(server, tmp_path, *args))
        assert server.requests == 2 * len(ANSWERS)
    assert failed.exit_code == EXIT_PROBE_GAIN, failed.output
    assert again.exit_code == EXIT_PROBE_GAIN, again.output
    position = written(tmp_path)["position"]
    assert (position["gain"], position["ci95"], position["flipped"]) == (1.0, [1.0, 1.0], 1.0)
    assert position["n"] == len(ANSWERS) and position["errors"] == 0
    assert "probe gain above 0.5: position [+1.000, +1.000]" in " ".join(failed.output.split())
    assert re.search(r"position \(pairwise\)\s.*\+1\.000", failed.stdout), failed.stdout
    assert "first-seat preference" in failed.stdout


def test_identical_pairs_when_the_response_is_the_only_answer(tmp_path: Path) -> None:
    """With --response-source ideal the graded response is the ideal: each pair is identical."""
    seen: list[tuple[str, str]] = []

    def tie(first: str, second: str) -> str:
        seen.append((first, second))
        return "tie"

    args = ("--probes", "position", "--response-source", "ideal", "--fail-on-gain", "0")
    with JudgeServer(decide=honest, compare=tie) as server:
        done = runner.invoke(app, probe_args(server, tmp_path, *args))
    assert done.exit_code == 0, done.output
    assert seen and all(a == b and a.startswith("Ideal answer to p") for a, b in seen)
    position = written(tmp_path)["position"]
    assert (position["gain"], position["flipped"], position["n"]) == (0.0, 0.0, len(ANSWERS))
    assert position["by_variant"] == {
        "identical": {"gain": 0.0, "n": len(ANSWERS), "flipped": 0.0, "pairs": len(ANSWERS)}
    }


def test_position_error_decisions_are_counted_and_shown(tmp_path: Path) -> None:
    with JudgeServer(decide=honest, compare=lambda _a, _b: "both") as server:
        done = runner.invoke(app, probe_args(server, tmp_path, "--probes", "position,injection"))
        report = written(tmp_path)
        only = runner.invoke(
            app, probe_args(server, tmp_path, "--probes", "position", "--no-cache")
        )
    assert done.exit_code == 0, done.output
    assert (report["position"]["errors"], report["position"]["n"]) == (2 * len(ANSWERS), 0)
    assert report["position"]["gain"] is None and report["position"]["ci95"] is None
    assert "error decisions: 16 orders of position's pairs" in " ".join(done.output.split())
    assert report["injection"]["errors"] == 0 and report["injection"]["n"] > 0
    # Nothing could be scored at all: the run fails rather than report an empty probe.
    assert only.exit_code == 3, only.output
    assert "no probe could be scored" in only.output
