"""``rubricate report``: one offline HTML page from run directories."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rubricate.cli._app import app, console, exit_on_error, setup_logging
from rubricate.cli._data import (
    FieldOption,
    FormatOption,
    ResponsesOption,
    ResponseSourceOption,
    parse_fields,
    sample_reader,
)
from rubricate.cli._options import VerboseOption
from rubricate.errors import InputError
from rubricate.report import write_report

REPORT_HELP = """Write one self-contained HTML report of a run directory (no judge call).

Example:

    rubricate report runs/r1 -o report.html
    rubricate report runs/model-a runs/model-b -o compare.html --prices prices.json

With two or more runs, each further run is compared with the first over the samples both
graded: paired differences with bootstrap intervals, win/tie/loss, flipped criteria. The page
fetches nothing when opened (no CDN, fonts or scripts): it can be mailed or kept as an artifact.
Pages for probes.json, pairs.jsonl and criterion labels appear when the run directory has them.
"""


@app.command(help=REPORT_HELP)
def report(
    runs: Annotated[
        list[Path],
        typer.Argument(help="Run directories (or results.jsonl); the first is reported."),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="HTML file to write.")] = Path(
        "report.html"
    ),
    prices: Annotated[
        Path | None,
        typer.Option(
            help='JSON of USD per million judge tokens: {"prompt": P, "cached_prompt": C, '
            '"completion": O}, or such rates per judge model (key "*" for the rest).'
        ),
    ] = None,
    labels: Annotated[
        Path | None,
        typer.Option(
            help="Criterion labels for the first run (as `meta-eval criteria --labels`; "
            "default: labels.jsonl in the run directory, when there)."
        ),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            help="The data the first run graded, to show each sample's conversation and "
            "response (read with --format, --field, --response-source, --responses as grade does)."
        ),
    ] = None,
    format: FormatOption = "auto",
    field: FieldOption = None,
    response_source: ResponseSourceOption = "field",
    responses: ResponsesOption = None,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    verbose: VerboseOption = False,
) -> None:
    setup_logging(verbose)
    with exit_on_error():
        if out.is_dir():
            raise InputError("is a directory; give the HTML file to write", file=str(out))
        samples = None
        if data is not None:
            samples = sample_reader(
                data,
                format=format,
                fields=parse_fields(field),
                response_source=response_source,
                responses=responses,
            )()
        path = write_report(runs, out, prices=prices, labels=labels, seed=seed, samples=samples)
        console.print(f"wrote {path} ({path.stat().st_size / 1024:,.0f} KiB)", highlight=False)
