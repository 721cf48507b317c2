"""The support of a stored verdict's evidence: the one count grading, ``rubricate score`` and
the report share, so summary.json's ``evidence_*`` counts read the same from the results."""

from __future__ import annotations

from rubricate.judge import evidence_status
from rubricate.results import VerdictRecord
from rubricate.types import Quote, Verdict

__all__ = ["evidence_support"]


def evidence_support(record: VerdictRecord) -> str | None:
    """``judge.evidence_status`` of a stored verdict, by the judge's own label (``judged``
    when ``--evidence strict`` overrode it): ``verified``, ``unverified``, ``missing`` or
    ``None`` (not a met, or evidence not asked for)."""
    if record.evidence is None:
        return None
    quotes = tuple(Quote(q.quote, q.found) for q in record.evidence)
    label = record.judged or record.verdict
    return evidence_status(Verdict(record.criterion_id, label, evidence=quotes))
