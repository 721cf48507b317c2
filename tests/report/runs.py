"""Real run directories for the report tests: `rubricate grade` against the loopback judge."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from rubricate.cli import app
from tests.support.judge_server import JudgeServer

THEMES = ("theme:emergency", "theme:hedging", "theme:context")
N_SAMPLES = 12
UNGRADABLE = "s11"  # its response makes the judge answer without a verdict


def dataset(path: Path) -> Path:
    """HealthBench lines: four criteria with axes and clusters, a required one, a pitfall."""
    lines = []
    for i in range(N_SAMPLES):
        lines.append(
            {
                "prompt_id": f"s{i:02d}" if i != 11 else UNGRADABLE,
                "prompt": [
                    {
                        "role": "user",
                        "content": f"My child has a fever of 3{8 + i % 3} C. What now?",
                    }
                ],
                "rubrics": [
                    {
                        "criterion": "Gives the correct paracetamol dose",
                        "points": 6,
                        "tags": ["axis:accuracy", "cluster:dosing"],
                    },
                    {
                        "criterion": "Tells when to see a doctor",
                        "points": 4,
                        "tags": ["axis:completeness", "cluster:safety"],
                        "required": True,
                    },
                    {
                        "criterion": "Asks the child's weight",
                        "points": 3,
                        "tags": ["axis:context_awareness", "cluster:dosing"],
                    },
                    {
                        "criterion": "Recommends aspirin for a child",
                        "points": -8,
                        "tags": ["axis:accuracy", "cluster:safety"],
                    },
                ],
                "example_tags": [THEMES[i % 3]],
                "response": f"Answer {i}: give 15 mg/kg paracetamol"
                + (" and consult a physician" if i % 2 else "")
                + (" NOVERDICT" if i == 11 else ""),
            }
        )
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def strict_judge(_id: str, text: str, message: str) -> str:
    """Meets what the response says; answers no verdict at all for the ungradable sample."""
    if "NOVERDICT" in message:
        return "maybe"
    if "doctor" in text:
        return "met" if "consult a physician" in message else "not_met"
    if "aspirin" in text or "weight" in text:
        return "not_met"
    return "met"


def lenient_judge(_id: str, text: str, message: str) -> str:
    """Another judge: meets the doctor criterion always and the weight one for even answers."""
    if "NOVERDICT" in message:
        return "maybe"
    if "weight" in text:
        return "met" if any(f"Answer {i}:" in message for i in range(0, 12, 2)) else "not_met"
    return "not_met" if "aspirin" in text else "met"


def grade_run(
    tmp: Path,
    name: str,
    decide,
    *extra: str,
    exit_code: int = 0,
    respond: Callable[[dict[str, Any]], str] | None = None,
) -> tuple[Path, str]:
    """Grade the dataset into ``tmp/name`` (with log-probabilities) and return it with the output;
    the command must end with ``exit_code`` (3: no sample could be scored). ``respond``, when
    given, writes the judge's whole reply (see ``JudgeServer``)."""
    data = tmp / "data.jsonl"
    if not data.exists():
        dataset(data)
    with JudgeServer(decide=decide, respond=respond) as server:
        done = CliRunner().invoke(
            app,
            [
                "grade",
                str(data),
                "--judge-url",
                server.url,
                "--judge-model",
                f"judge-{name}",
                "--out",
                str(tmp / name),
                "--cache",
                str(tmp / f"{name}.sqlite"),
                "--probabilities",
                "--max-retries",
                "0",
                # The runs hold errors on purpose (the report must show them).
                "--max-error-rate",
                "1",
                "--quiet",
                *extra,
            ],
        )
    assert done.exit_code == exit_code, done.output
    return tmp / name, done.output
