"""``rubricate calibrate``: fit each judge's P(met) map and threshold from a run and labels."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from rubricate.calibrate import METHODS, Method
from rubricate.cli._app import app, console, exit_on_error, setup_logging
from rubricate.errors import ConfigError
from rubricate.meta import CalibrationFit, calibrate_run
from rubricate.runs import write_json

stdout = Console()


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _table(fit: CalibrationFit) -> Table:
    table = Table(title=f"calibration {fit.file.digest} (held-out figures: out-of-fold)")
    for column in (
        "judge",
        "labels",
        "method",
        "threshold",
        "ECE before",
        "ECE after",
        "bal. acc.",
    ):
        table.add_column(column, overflow="fold")
    for judge, calibration in fit.file.judges.items():
        held = calibration.held_out
        ece_after = held.ece_after[calibration.method] if held is not None else None
        accuracy = (
            f"{held.balanced_accuracy_before:.3f} -> {held.balanced_accuracy_after:.3f}"
            if held is not None
            else "-"
        )
        table.add_row(
            judge,
            str(calibration.n),
            calibration.method,
            f"{calibration.threshold:.3f}",
            _number(held.ece_before if held is not None else None),
            _number(ece_after),
            accuracy,
        )
    return table


@app.command()
def calibrate(
    run: Annotated[Path, typer.Argument(help="A run directory (or its results.jsonl).")],
    labels: Annotated[
        Path,
        typer.Option(
            help="JSONL of {sample_id, criterion_id or criterion, label: true|false} "
            "(as meta-eval criteria)."
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Where to write calibration.json.")
    ] = Path("calibration.json"),
    method: Annotated[
        str | None,
        typer.Option(
            help="Map to apply: platt, temperature or isotonic (default: the lowest "
            "held-out expected calibration error)."
        ),
    ] = None,
    folds: Annotated[int, typer.Option(help="Held-out folds (stratified).")] = 5,
    seed: Annotated[int, typer.Option(help="Fold shuffling seed.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Fit, per judge of a run graded with --probabilities, a map from P(met) to a calibrated
    probability (Platt, temperature, isotonic) and the threshold that maximises balanced
    accuracy; report expected calibration error before and after on held-out folds. Apply it
    with `rubricate grade --calibration FILE`."""
    setup_logging(verbose)
    with exit_on_error():
        if method is not None and method not in METHODS:
            raise ConfigError(f"--method must be one of {', '.join(METHODS)}, not '{method}'")
        if folds < 2:
            raise ConfigError("--folds must be at least 2")
        chosen: Method | None = next((m for m in METHODS if m == method), None)
        fit = calibrate_run(run, labels, method=chosen, folds=folds, seed=seed)
        out.parent.mkdir(parents=True, exist_ok=True)
        write_json(out, fit.file.model_dump(mode="json"))
        if as_json:
            typer.echo(json.dumps(fit.as_dict(), indent=2, ensure_ascii=False))
            return
        stdout.print(_table(fit))
        if fit.left_out:
            left = ", ".join(f"{reason}: {n}" for reason, n in fit.left_out.most_common())
            stdout.print(f"labels left out: {left}", highlight=False)
        console.print(f"wrote {out}", highlight=False)
