"""``rubricate probe``: attack probes against a judge, with a gate for CI."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from rubricate.cli._app import (
    EXIT_BACKEND,
    EXIT_PROBE_GAIN,
    app,
    console,
    exit_on_error,
    setup_logging,
)
from rubricate.cli._bind import bind_settings
from rubricate.cli._data import (
    DataArgument,
    FieldOption,
    FormatOption,
    ResponsesOption,
    ResponseSourceOption,
    parse_fields,
    sample_reader,
)
from rubricate.cli._options import LimitOption, VerboseOption
from rubricate.errors import ConfigError
from rubricate.formats import Format, detect_format, read_samples
from rubricate.meta import PROBES, ProbeOutcome, ProbeReport, fail_on_gain, run_probes_async
from rubricate.runs import check_input
from rubricate.session import Session
from rubricate.settings import JudgeSettings, Settings
from rubricate.types import Sample

PROBE_HELP = f"""Probe a judge: grade the samples and altered copies of them, and report what
each alteration gains.

Example (any OpenAI-compatible server; the judge options are those of `rubricate grade`):

    rubricate probe data.jsonl --judge-url http://127.0.0.1:8000/v1 --judge-model NAME --out runs/probe --fail-on-gain 0.05

Probes: {", ".join(PROBES)} (all by default). For each: the mean score change against the
original responses with a paired bootstrap 95% interval, the share of verdicts that flipped,
the pairs compared and the error verdicts. Writes OUT/probes.json. With --fail-on-gain X, exits
{EXIT_PROBE_GAIN} when a probe's whole interval lies above X. Judgments are cached like grade's
(self_consistency always asks again).

position compares each response with a second answer in both orders, holistically (one call
per order): HealthBench's ideal completion when the line has one that differs from the graded
response, else the response itself (an identical pair: any preference is position bias). Its
gain is the first-seat preference in [-1, 1], not score points: a decision for the response
shown first counts +1, for the second -1, a tie 0 (always the first seat: 1; content only: 0).
flipped is the share of pairs whose two orders disagree; probes.json counts the pairs of each
kind (by_variant: identical, distinct).
"""

stdout = Console()


def parse_probes(value: str | None) -> list[str] | None:
    """``--probes master_key,injection`` as names in the order given (``None``: all probes);
    raises ``ConfigError`` naming the unknown ones and the valid ones."""
    if value is None:
        return None
    names = list(dict.fromkeys(n.strip() for n in value.split(",") if n.strip()))
    unknown = [n for n in names if n not in PROBES]
    if unknown or not names:
        what = f"unknown probe(s) {', '.join(unknown)}" if unknown else "no probe named"
        raise ConfigError(f"--probes '{value}': {what} (valid: {', '.join(PROBES)})")
    return names


@app.command(help=PROBE_HELP)
# The length-adjusted figure is a report of grade's, not an option of the judge.
@bind_settings("judge", exclude={"judge.length_penalty", "judge.max_error_rate"})
def probe(
    data: DataArgument,
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for probes.json.")],
    probes: Annotated[
        str | None,
        typer.Option(
            "--probes",
            metavar="NAME,...",
            help=f"Probes to run (default all: {', '.join(PROBES)}).",
        ),
    ] = None,
    fail_on: Annotated[
        float | None,
        typer.Option(
            "--fail-on-gain",
            metavar="X",
            help=f"Exit {EXIT_PROBE_GAIN} when a probe's whole 95% gain interval lies above X "
            "(score units, e.g. 0.05; for position, first-seat preference in [-1, 1]).",
        ),
    ] = None,
    format: FormatOption = "auto",
    field: FieldOption = None,
    response_source: ResponseSourceOption = "field",
    responses: ResponsesOption = None,
    limit: LimitOption = None,
    seed: Annotated[
        int, typer.Option(help="Seeds the criterion shuffles of 'order' and the bootstrap.")
    ] = 0,
    resamples: Annotated[
        int, typer.Option(min=0, help="Bootstrap resamples per interval (0: no intervals).")
    ] = 1000,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print probes.json instead of a table.")
    ] = False,
    verbose: VerboseOption = False,
    *,
    settings: Settings,
) -> None:
    setup_logging(verbose)
    with exit_on_error():
        chosen = parse_probes(probes)
        if fail_on is not None and not math.isfinite(fail_on):
            raise ConfigError(f"--fail-on-gain {fail_on}: expected a finite number")
        if fail_on is not None and resamples == 0:
            raise ConfigError("--fail-on-gain compares intervals: --resamples must be above 0")
        read = sample_reader(
            data,
            format=format,
            fields=parse_fields(field),
            response_source=response_source,
            responses=responses,
            limit=limit,
        )
        # Check every sample before a judge is built, then read them for the probes.
        check_input(read(), needs_response=True, source=str(data))
        samples = [item for item in read() if isinstance(item, Sample)]
        second: dict[str, str] = {}
        if (chosen is None or "position" in chosen) and response_source == "field":
            second = _ideal_completions(data, format, {s.id for s in samples})
        report = asyncio.run(_probe(settings.judge, samples, second, out, chosen, seed, resamples))
        if as_json:
            typer.echo(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
        else:
            stdout.print(_table(report, settings.judge.mode))
        graded = {n: o for n, o in report.probes.items() if n != "position"}
        errors = sum(o.errors for o in graded.values())
        # Probes of one mode share the grading of the originals: count it once.
        original = {o.mode: o.baseline_errors for o in graded.values()}
        if errors or any(original.values()):
            console.print(
                f"[yellow]error verdicts[/]: {errors} in altered samples, "
                f"{sum(original.values())} in the originals (left out of gains and flips)",
                highlight=False,
            )
        position = report.probes.get("position")
        if position is not None and position.errors:
            console.print(
                f"[yellow]error decisions[/]: {position.errors} orders of position's pairs "
                "(their pairs left out of its gain and flips)",
                highlight=False,
            )
        errors += position.errors if position is not None else 0
        console.print(f"wrote {out / 'probes.json'}", highlight=False)
        if all(o.n == 0 for o in report.probes.values()) and (errors or any(original.values())):
            console.print(
                "[red]error[/]: no probe could be scored: every pair had error verdicts "
                "(is the judge reachable? run with -v for its failures)"
            )
            raise typer.Exit(EXIT_BACKEND)
        if fail_on is not None:
            unmeasured = [n for n, o in report.probes.items() if o.gain.ci95 is None]
            if unmeasured:
                console.print(
                    f"[yellow]not gated (no pair scored)[/]: {', '.join(unmeasured)}",
                    highlight=False,
                )
            failed = fail_on_gain(report, fail_on)
            if failed:
                shown = ", ".join(f"{n} {_interval(report.probes[n])}" for n in failed)
                console.print(f"[red]probe gain above {fail_on}[/]: {shown}", highlight=False)
                raise typer.Exit(EXIT_PROBE_GAIN)


def _ideal_completions(data: Path, format: Format, ids: set[str]) -> dict[str, str]:
    """HealthBench's ideal completions of the probed samples, by id (other formats: none)."""
    if (detect_format(data) if format == "auto" else format) != "healthbench":
        return {}
    return {
        item.id: item.response
        for item in read_samples(data, format="healthbench", response_source="ideal")
        # A line without an ideal completion is an error here only: its pair is identical.
        if isinstance(item, Sample) and item.id in ids and item.response is not None
    }


async def _probe(
    judge: JudgeSettings,
    samples: list[Sample],
    second: dict[str, str],
    out: Path,
    chosen: list[str] | None,
    seed: int,
    resamples: int,
) -> ProbeReport:
    async with Session(judge) as session:
        options = dataclasses.asdict(session.options)
        del options["mode"]  # run_probes takes it apart: 'order' grades grouped whatever it is
        return await run_probes_async(
            samples,
            session.judge,
            out,
            probes=chosen,
            mode=session.options.mode,
            seed=seed,
            store=session.store,
            n_resamples=resamples,
            grade_options=options,
            second_responses=second,
        )


def _number(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.3f}" if signed else f"{value:.3f}"


def _interval(outcome: ProbeOutcome) -> str:
    interval = outcome.gain.ci95
    return "-" if interval is None else f"[{interval[0]:+.3f}, {interval[1]:+.3f}]"


def _table(report: ProbeReport, mode: str) -> Table:
    table = Table(title="probe gain: probe score - original score", caption=_CAPTION)
    table.add_column("probe", no_wrap=True)
    for column in ("gain", "95% interval", "flipped", "n", "errors"):
        table.add_column(column, justify="right", no_wrap=True)
    for name, outcome in report.probes.items():
        table.add_row(
            name if outcome.mode == mode else f"{name} ({outcome.mode})",
            _number(outcome.gain.value, signed=True),
            _interval(outcome),
            _number(outcome.flipped),
            str(outcome.n),
            f"{outcome.errors} / " + ("-" if name == "position" else str(outcome.baseline_errors)),
        )
    return table


_CAPTION = (
    "95% interval: paired bootstrap over samples; flipped: share of verdicts that changed; "
    "n: variant pairs scored; errors: error verdicts in the altered samples / the originals; "
    "position: first-seat preference in [-1, 1], flipped and n over pairs asked in both orders, "
    "errors: orders without a decision"
)
