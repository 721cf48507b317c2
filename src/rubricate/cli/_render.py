"""Rich rendering shared by commands: the live progress bar and the final summary table."""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from rubricate.engine import Grader
from rubricate.results import RunSummary


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.fields.get("calls_per_s")
        return Text(f"{speed:6.1f} calls/s" if speed is not None else "   -- calls/s", style="cyan")


class GradeProgress:
    """Live bar: criteria done/total, judge calls per second, cache hits, errors, ETA."""

    def __init__(self, console: Console, total_criteria: int | None, enabled: bool = True) -> None:
        self.enabled = enabled
        self.progress = Progress(
            TextColumn("[bold]grading"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} criteria"),
            _RateColumn(),
            TextColumn("cache {task.fields[hits]}  errors {task.fields[errors]}"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
            disable=not enabled,
        )
        self.task = self.progress.add_task(
            "grade", total=total_criteria, hits=0, errors=0, calls_per_s=None
        )
        self.started = time.perf_counter()
        self._last = 0.0

    def __enter__(self) -> GradeProgress:
        self.progress.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.progress.__exit__(exc_type, exc, traceback)

    def update(self, grader: Grader) -> None:
        now = time.perf_counter()
        if now - self._last < 0.1:  # rendering is not free; ten updates a second are plenty
            return
        self._last = now
        counts = grader.counts
        elapsed = max(now - self.started, 1e-9)
        self.progress.update(
            self.task,
            completed=grader.criteria_decided,
            hits=counts.cache_hits,
            errors=counts.errors + counts.failed_calls,
            calls_per_s=counts.judge_calls / elapsed,
        )

    def finish(self, grader: Grader) -> None:
        self._last = 0.0
        self.update(grader)


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def summary_table(summary: RunSummary, title: str = "rubricate") -> Table:
    table = Table(title=title, show_header=True, header_style="bold")
    table.add_column("measure")
    table.add_column("value", justify="right")
    interval = (
        f"  [{summary.ci95[0]:.3f}, {summary.ci95[1]:.3f}]" if summary.ci95 is not None else ""
    )
    table.add_row(f"score ({summary.method})", _fmt(summary.score) + interval)
    if summary.bootstrap_std is not None:
        table.add_row("bootstrap std", f"{summary.bootstrap_std:.4f}")
    table.add_row("samples scored / graded", f"{summary.n_scored} / {summary.n_samples}")
    for axis, value in sorted(summary.axes.items()):
        table.add_row(f"  axis {axis}", _fmt(value))
    counts = summary.counts
    table.add_row("criteria", str(counts.criteria))
    table.add_row("judge calls / cache hits", f"{counts.judge_calls} / {counts.cache_hits}")
    table.add_row("errors / cannot assess", f"{counts.errors} / {counts.cannot_assess}")
    if counts.failed_calls or counts.unparseable_replies or counts.reasked:
        table.add_row(
            "failed calls / unparseable / re-asked",
            f"{counts.failed_calls} / {counts.unparseable_replies} / {counts.reasked}",
        )
    if counts.skipped_lines:
        table.add_row("skipped lines", str(counts.skipped_lines))
    if counts.gate_failed:
        table.add_row("samples failing a gate", str(counts.gate_failed))
    if counts.policy_calls or counts.policy_cache_hits:
        table.add_row(
            "policy calls / cache hits", f"{counts.policy_calls} / {counts.policy_cache_hits}"
        )
    tokens = summary.tokens
    if tokens.prompt or tokens.completion:
        table.add_row(
            "tokens prompt (cached) / completion",
            f"{tokens.prompt} ({tokens.cached_prompt}) / {tokens.completion}",
        )
    jury = summary.jury
    if jury:
        rule = f" {jury['rule']}" if jury.get("rule") else ""  # not recorded when rescored
        table.add_row(
            f"jury{rule}: Fleiss / Krippendorff",
            f"{_fmt(jury.get('fleiss_kappa'))} / {_fmt(jury.get('krippendorff_alpha'))}",
        )
        for fingerprint, judge in jury.get("judges", {}).items():
            calls = f", {judge['calls']} calls" if "calls" in judge else ""
            table.add_row(
                f"  {judge.get('name') or fingerprint}",
                f"agrees with the jury {_fmt(judge.get('agreement_with_jury'))}{calls}",
            )
    if summary.elapsed_s is not None:
        table.add_row("elapsed", f"{summary.elapsed_s:.1f} s")
    return table
