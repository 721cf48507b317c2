"""The two values made once per judge call, built lean.

A frozen slotted dataclass's generated ``__init__`` sets each field through
``object.__setattr__`` (a global lookup and a generic call per field): for ``JudgeRequest``'s
ten fields that is most of the cost of building a request. Here each slot is set through its
own descriptor. The values are ordinary instances, equal to the ones ``__init__`` makes
(``tests/judge/test_lean.py`` builds both from the same fields); a field added to either class
breaks the unpacking of its setters below at import, so it cannot be left unset.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields

from rubricate.types import JudgeRequest, Message, Quote, Verdict

__all__ = ["lean_request", "lean_verdict"]


def _setters(cls: type) -> tuple[Callable[[object, object], None], ...]:
    return tuple(getattr(cls, f.name).__set__ for f in fields(cls))


_new = object.__new__
(
    _messages,
    _criterion_ids,
    _max_tokens,
    _want_probabilities,
    _choices,
    _answer_prefix,
    _shared_prefix_chars,
    _temperature,
    _seed,
    _reply_schema,
) = _setters(JudgeRequest)
(
    _criterion_id,
    _label,
    _probability,
    _level,
    _explanation,
    _votes,
    _raw_probability,
    _evidence,
    _reply,
) = _setters(Verdict)


def lean_request(
    messages: tuple[Message, ...],
    criterion_ids: tuple[str, ...],
    max_tokens: int,
    want_probabilities: bool,
    choices: tuple[str, ...],
    answer_prefix: str,
    shared_prefix_chars: int,
    reply_schema: str | None,
) -> JudgeRequest:
    """``JudgeRequest(...)`` with temperature and seed left to the judge (``None``)."""
    request: JudgeRequest = _new(JudgeRequest)
    _messages(request, messages)
    _criterion_ids(request, criterion_ids)
    _max_tokens(request, max_tokens)
    _want_probabilities(request, want_probabilities)
    _choices(request, choices)
    _answer_prefix(request, answer_prefix)
    _shared_prefix_chars(request, shared_prefix_chars)
    _temperature(request, None)
    _seed(request, None)
    _reply_schema(request, reply_schema)
    return request


def lean_verdict(
    criterion_id: str,
    label: str,
    probability: float | None,
    evidence: tuple[Quote, ...] | None,
) -> Verdict:
    """``Verdict(criterion_id, label, probability=probability, evidence=evidence)``."""
    verdict: Verdict = _new(Verdict)
    _criterion_id(verdict, criterion_id)
    _label(verdict, label)
    _probability(verdict, probability)
    _level(verdict, None)
    _explanation(verdict, None)
    _votes(verdict, ())
    _raw_probability(verdict, None)
    _evidence(verdict, evidence)
    _reply(verdict, None)
    return verdict
