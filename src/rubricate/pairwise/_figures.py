"""Run figures from pairs.jsonl lines: accuracy, consistency, first-position rate, ties (pure).

With a jury, each member's own figures are tallied too, and the members' agreement over
trials (a pair in one order; decisions as ``A``, ``B`` or ``tie`` in the original positions).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rubricate.jury import AgreementTally
from rubricate.pairwise._records import JuryMemberLine, PairLine, SourceFigures
from rubricate.pairwise._types import Decision
from rubricate.pairwise._votes import chose_first

__all__ = ["FigureTally", "MemberTally", "tally_lines"]

_CATEGORY: dict[Decision, str] = {"A>B": "A", "B>A": "B", "A=B": "tie"}


@dataclass(slots=True)
class _Tally:
    n_pairs: int = 0
    n_labelled: int = 0
    correct: int = 0
    two_order: int = 0
    consistent: int = 0
    chosen: int = 0  # non-tie decisions
    first: int = 0  # of which for the response shown first
    ties: int = 0
    errors: int = 0

    def add(self, line: PairLine | JuryMemberLine, label: Decision | None) -> None:
        self.n_pairs += 1
        if label is not None:
            self.n_labelled += 1
            self.correct += bool(line.correct)
        if line.consistent is not None:
            self.two_order += 1
            self.consistent += line.consistent
        for trial in line.judgments:
            first = chose_first(trial.decision)
            if first is not None:
                self.chosen += 1
                self.first += first
            if trial.decision is None:
                self.errors += 1
        self.ties += line.preference == "A=B"

    def figures(self) -> SourceFigures:
        return SourceFigures(
            n_pairs=self.n_pairs,
            n_labelled=self.n_labelled,
            accuracy=self.correct / self.n_labelled if self.n_labelled else None,
            consistency=self.consistent / self.two_order if self.two_order else None,
            first_position_rate=self.first / self.chosen if self.chosen else None,
            ties=self.ties,
            errors=self.errors,
        )


@dataclass(slots=True)
class MemberTally:
    """One jury member's figures, as if it had judged alone."""

    tally: _Tally = field(default_factory=_Tally)
    error_pairs: int = 0
    criterion_errors: int = 0

    def add(self, line: JuryMemberLine, label: Decision | None) -> None:
        self.tally.add(line, label)
        self.error_pairs += line.preference is None
        self.criterion_errors += _criterion_errors(line)

    def figures(self) -> SourceFigures:
        return self.tally.figures()


def _criterion_errors(line: PairLine | JuryMemberLine) -> int:
    return sum(trial.winner is None for criterion in line.criteria for trial in criterion.trials)


def _category(decision: Decision | None) -> str | None:
    return None if decision is None else _CATEGORY[decision]


@dataclass(slots=True)
class FigureTally:
    """Counts kept per pair (integers only: flat memory at any size), overall and per source.

    ``first_position_rate`` counts decisions that chose a seat: ties and errors choose
    neither and are left out of it. A jury's members are tallied by fingerprint in
    ``members``, their agreement in ``agreement``; a member's criterion errors count in
    ``criterion_errors`` (a jury line has no criteria of its own).
    """

    overall: _Tally = field(default_factory=_Tally)
    sources: dict[str, _Tally] = field(default_factory=dict)
    error_pairs: int = 0
    criterion_errors: int = 0
    modes: set[str] = field(default_factory=set)
    members: dict[str, MemberTally] = field(default_factory=dict)
    agreement: AgreementTally = field(default_factory=AgreementTally)

    def add(self, line: PairLine) -> None:
        self.overall.add(line, line.label)
        self.sources.setdefault(line.source or "", _Tally()).add(line, line.label)
        self.error_pairs += line.preference is None
        self.criterion_errors += _criterion_errors(line)
        self.modes.add(line.mode)
        for member in line.jury or ():
            self.members.setdefault(member.judge, MemberTally()).add(member, line.label)
            self.criterion_errors += _criterion_errors(member)
        if line.jury:
            for index, decision in enumerate(line.decisions):
                ratings = {m.judge: _category(m.decisions[index]) for m in line.jury}
                self.agreement.add(ratings, _category(decision))

    def figures(self) -> SourceFigures:
        return self.overall.figures()

    def by_source(self) -> dict[str, SourceFigures]:
        return {name or "-": self.sources[name].figures() for name in sorted(self.sources)}

    @property
    def mode(self) -> str:
        return next(iter(self.modes)) if len(self.modes) == 1 else "mixed" if self.modes else ""


def tally_lines(lines: list[PairLine]) -> FigureTally:
    """A ``FigureTally`` of ``lines``."""
    tally = FigureTally()
    for line in lines:
        tally.add(line)
    return tally
