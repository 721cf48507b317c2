"""``rubricate meta-eval`` (criteria, scores, pairwise) and ``rubricate drift``: checking the judge."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from rubricate.cli._app import app, console, exit_on_error, setup_logging
from rubricate.errors import ConfigError
from rubricate.meta import (
    JUDGEBENCH_CATEGORIES,
    CriteriaReport,
    Estimate,
    GroupAgreement,
    meta_eval_criteria,
    meta_eval_pairwise,
    meta_eval_scores,
    run_drift,
)

meta_app = typer.Typer(
    name="meta-eval",
    help="How well the judge agrees with labels: criterion verdicts, sample scores, pairwise decisions.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
app.add_typer(meta_app, name="meta-eval")

stdout = Console()

Run = Annotated[Path, typer.Argument(help="A run directory (or its results.jsonl).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
Seed = Annotated[int, typer.Option(help="Bootstrap seed.")]
Resamples = Annotated[int, typer.Option(help="Bootstrap resamples per interval (0: no intervals).")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v")]


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _interval(estimate: Estimate) -> str:
    if estimate.ci95 is None:
        return _number(estimate.value)
    return f"{_number(estimate.value)} [{estimate.ci95[0]:.3f}, {estimate.ci95[1]:.3f}]"


def _emit(data: dict[str, Any]) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


_AGREEMENT = {
    "accuracy": "accuracy",
    "balanced_f1": "bal. F1",
    "kappa": "kappa",
    "precision_met": "prec. met",
    "recall_met": "rec. met",
    "leniency": "leniency",
}


def _cell(estimate: Estimate) -> str:
    # Value over its interval: keeps six metrics readable in a normal terminal.
    if estimate.ci95 is None:
        return _number(estimate.value)
    return f"{_number(estimate.value)}\n{estimate.ci95[0]:.2f}..{estimate.ci95[1]:.2f}"


def _criteria_table(report: CriteriaReport) -> Table:
    table = Table(
        title=f"criterion agreement with labels ({report.combine}; each value over its 95% interval)"
    )
    for column in ("group", "items", "labels", *_AGREEMENT.values()):
        table.add_column(column, overflow="fold")
    rows: list[tuple[str, GroupAgreement]] = [("all", report.overall)]
    rows += [(f"axis:{k}", v) for k, v in report.by_axis.items()]
    rows += [(k, v) for k, v in report.by_tag.items()]
    if report.labellers is not None:
        rows.append(("labellers vs each other", report.labellers))
    for name, group in rows:
        table.add_row(
            name,
            str(group.n_items),
            str(group.n_labels),
            *(_cell(group.metrics[m]) for m in _AGREEMENT),
        )
    return table


@meta_app.command()
def criteria(
    run: Run,
    labels: Annotated[
        Path,
        typer.Option(
            help="JSONL of {sample_id, criterion_id or criterion, label: true|false} "
            "(or labels: [..] for several labellers)."
        ),
    ],
    combine: Annotated[
        str,
        typer.Option(
            help="Several labels per criterion: 'pairwise' (HealthBench: the verdict against "
            "each label) or 'majority' (even splits left out)."
        ),
    ] = "pairwise",
    as_json: AsJson = False,
    seed: Seed = 0,
    resamples: Resamples = 1000,
    verbose: Verbose = False,
) -> None:
    """Agreement of a run's met / not_met verdicts with labels: accuracy, balanced F1 (HealthBench's
    f1_balanced), Cohen's kappa, precision and recall of met, leniency; overall, per axis, per tag."""
    setup_logging(verbose)
    with exit_on_error():
        if combine not in ("pairwise", "majority"):
            raise ConfigError(f"--combine must be 'pairwise' or 'majority', not '{combine}'")
        report = meta_eval_criteria(
            run,
            labels,
            combine="majority" if combine == "majority" else "pairwise",
            n_resamples=resamples,
            seed=seed,
        )
        if as_json:
            _emit(report.as_dict())
            return
        stdout.print(_criteria_table(report))
        if report.excluded:
            stdout.print(
                f"left out (verdict not met / not_met): {report.excluded}", highlight=False
            )
        if report.tied_items:
            stdout.print(f"left out (labels split evenly): {report.tied_items}", highlight=False)
        _print_unmatched(
            [(u.line, f"{u.sample_id} / {u.criterion}", u.reason) for u in report.unmatched], labels
        )


def _print_unmatched(rows: list[tuple[int, str, str]], path: Path) -> None:
    if not rows:
        return
    console.print(f"[yellow]{len(rows)} label line(s) match no verdict[/]:", highlight=False)
    for line, what, reason in rows:
        console.print(f"  {path}:{line}: {what}: {reason}", highlight=False)


@meta_app.command()
def scores(
    run: Run,
    labels: Annotated[
        Path,
        typer.Option(help="JSONL of {sample_id, score} (several lines per sample: their mean)."),
    ],
    as_json: AsJson = False,
    seed: Seed = 0,
    resamples: Resamples = 1000,
    verbose: Verbose = False,
) -> None:
    """Spearman, Kendall (tau-b) and Pearson correlation of a run's sample scores with human scores."""
    setup_logging(verbose)
    with exit_on_error():
        report = meta_eval_scores(run, labels, n_resamples=resamples, seed=seed)
        if as_json:
            _emit(report.as_dict())
            return
        table = Table(
            title=f"score correlation over {report.n_samples} samples (95% bootstrap intervals)"
        )
        table.add_column("statistic")
        table.add_column("value [ci95]")
        for name, estimate in (
            ("spearman", report.spearman),
            ("kendall tau-b", report.kendall),
            ("pearson", report.pearson),
        ):
            table.add_row(name, _interval(estimate))
        stdout.print(table)
        if report.unscored:
            stdout.print(f"left out (no run score): {report.unscored}", highlight=False)
        _print_unmatched([(u.line, u.sample_id, u.reason) for u in report.unmatched], labels)


@meta_app.command()
def pairwise(
    file: Annotated[
        Path, typer.Argument(help="rubricate's pairs.jsonl or a JudgeBench outputs/*.jsonl file.")
    ],
    group_prefix: Annotated[
        list[str] | None,
        typer.Option(help="Report sources under this prefix (repeat); others stay as they are."),
    ] = None,
    judgebench_categories: Annotated[
        bool,
        typer.Option(
            "--judgebench-categories",
            help="Group sources as JudgeBench reports them: mmlu-pro, livebench-reasoning, "
            "livebench-math, livecodebench.",
        ),
    ] = False,
    as_json: AsJson = False,
    verbose: Verbose = False,
) -> None:
    """Accuracy by JudgeBench's rule (the net vote over both orders must favour the label; ties and
    inconsistent pairs are wrong), overall and per source, and consistency across orders."""
    setup_logging(verbose)
    with exit_on_error():
        prefixes = [
            *(group_prefix or []),
            *(JUDGEBENCH_CATEGORIES if judgebench_categories else ()),
        ]
        report = meta_eval_pairwise(file, group_prefixes=prefixes)
        if as_json:
            _emit(report.as_dict())
            return
        table = Table(title="pairwise accuracy (JudgeBench's rule)")
        for column in ("source", "pairs", "accuracy", "consistency", "ties"):
            table.add_column(column)
        for name, group in [("all", report.overall), *report.by_source.items()]:
            table.add_row(
                name,
                str(group.n_pairs),
                _number(group.accuracy),
                _number(group.consistency),
                str(group.ties),
            )
        stdout.print(table)
        if report.unlabelled:
            shown = ", ".join(report.unlabelled[:20]) + (
                " ..." if len(report.unlabelled) > 20 else ""
            )
            console.print(
                f"[yellow]{len(report.unlabelled)} pair(s) without a label, not scored[/]: {shown}",
                highlight=False,
            )


@app.command()
def drift(
    run_a: Annotated[Path, typer.Argument(help="The first run directory (or results.jsonl).")],
    run_b: Annotated[Path, typer.Argument(help="The second run, same responses.")],
    top: Annotated[int, typer.Option(help="Criteria shown in the table, most changed first.")] = 15,
    as_json: AsJson = False,
    seed: Seed = 0,
    resamples: Resamples = 1000,
    verbose: Verbose = False,
) -> None:
    """Compare two gradings of the same responses (two rubric versions, two judges): verdict changes
    per criterion, score shift (B - A) per sample tag and axis, and where the shift concentrates."""
    setup_logging(verbose)
    with exit_on_error():
        report = run_drift(run_a, run_b, n_resamples=resamples, seed=seed)
        if as_json:
            _emit(report.as_dict())
            return
        data = report.as_dict()
        stdout.print(
            f"{report.n_samples} samples in both runs; {data['verdict_changes']} of "
            f"{data['verdicts_compared']} verdicts changed; criteria only in A: "
            f"{report.removed_criteria}, only in B: {report.added_criteria}",
            highlight=False,
        )
        changed = Table(title="criteria whose verdicts changed most")
        for column in ("criterion", "matched by", "changed / compared", "transitions"):
            changed.add_column(column, overflow="fold")
        for item in [c for c in report.criteria if c.changed][:top]:
            moves = ", ".join(
                f"{k} {v}"
                for k, v in item.transitions.items()
                if k.split("->")[0] != k.split("->")[1]
            )
            changed.add_row(
                item.criterion, item.matched_by, f"{item.changed} / {item.compared}", moves
            )
        stdout.print(changed)
        shifts = Table(title="score shift B - A (95% paired bootstrap intervals)")
        for column in ("group", "n", "shift [ci95]", "share of total"):
            shifts.add_column(column)
        groups = [("all", report.overall)]
        groups += [(f"tag:{k}", v) for k, v in report.by_tag.items()]
        groups += [(f"axis:{k}", v) for k, v in report.by_axis.items()]
        for name, group in groups:
            shifts.add_row(name, str(group.n), _interval(group.shift), _number(group.share))
        stdout.print(shifts)
        stdout.print(
            "shift concentrates in: "
            + (", ".join(report.concentrated) or "no group (every interval includes 0)"),
            highlight=False,
        )
        if report.only_in_a or report.only_in_b:
            console.print(
                f"[yellow]samples in one run only[/]: A {len(report.only_in_a)}, B {len(report.only_in_b)}",
                highlight=False,
            )
