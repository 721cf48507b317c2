"""``contrastive``: criteria that explain a preference, kept only when they reproduce it.

Preference-consistency filter (rejection sampling): both responses are graded with the
candidate rubric through the ``Grader`` (so the one scoring core and the judgment cache
apply); the rubric is kept only when the chosen response scores strictly higher. Otherwise
it is regenerated, with what went wrong as feedback, up to ``regenerations`` times.
"""

from __future__ import annotations

import logging

from rubricate.engine import Grader
from rubricate.generate._templates import load_generation_template
from rubricate.generate._types import Generated, GenerationItem, Outcome
from rubricate.generate._validate import Rules
from rubricate.generate._write import ANSWER_PREFIX, Writer
from rubricate.judge import response_nonce
from rubricate.results import SampleResult
from rubricate.rubric import Criterion, Rubric
from rubricate.types import Sample

__all__ = ["consistent", "contrastive"]

logger = logging.getLogger(__name__)

_FEEDBACK = (
    "\nA rubric written before did not rank the preferred response above the worse one "
    "(preferred scored {chosen}, worse scored {rejected}). Its criteria, with the verdict on "
    "the preferred / the worse response:\n{lines}\n"
    "Write a different rubric: criteria the preferred response meets and the worse one does not, "
    "and pitfalls only the worse one falls into.\n"
)


# Small models open every criterion with "The preferred response ...", which no grader of a new
# response can check; starting their first criterion with "The response" sets the pattern.
_PREFIX = ANSWER_PREFIX + "The response"


def consistent(chosen: float | None, rejected: float | None) -> bool:
    """Whether a rubric ranks the chosen response strictly above the rejected one (ties fail)."""
    return chosen is not None and rejected is not None and chosen > rejected


def _score(value: float | None) -> str:
    return "ungradable" if value is None else f"{value:.2f}"


def _feedback(criteria: list[Criterion], chosen: SampleResult, rejected: SampleResult) -> str:
    on_chosen = {r.criterion_id: r.verdict for r in chosen.verdicts}
    on_rejected = {r.criterion_id: r.verdict for r in rejected.verdicts}
    lines = "\n".join(
        f"- [{c.points:+g}] {c.text} ({on_chosen.get(c.id)} / {on_rejected.get(c.id)})"
        for c in criteria
    )
    return _FEEDBACK.format(
        chosen=_score(chosen.score), rejected=_score(rejected.score), lines=lines
    )


async def contrastive(item: GenerationItem, writer: Writer, grader: Grader) -> Generated:
    """Write a rubric from ``item``'s (prompt, chosen, rejected) and filter it by preference consistency."""
    template = load_generation_template("contrastive_v1")
    if item.chosen is None or item.rejected is None:
        return Generated(
            item,
            "contrastive",
            "failed",
            template.version,
            source_ids=[item.id],
            reason="no preference pair (chosen and rejected, or response_A/response_B with a label)",
        )
    options = writer.options
    context = "\n".join([item.prompt_text, item.chosen, item.rejected])
    rules = Rules(context=context)
    feedback = ""
    history: list[dict[str, object]] = []
    written_any = False
    last_reason = ""
    attempts = options.regenerations + 1
    for attempt in range(attempts):
        messages = template.render(
            prompt=item.prompt_text,
            preferred=item.chosen,
            preferred_tag=f"response-{response_nonce(item.chosen)}",
            worse=item.rejected,
            worse_tag=f"response-{response_nonce(item.rejected)}",
            feedback=feedback,
            min_criteria=options.min_criteria,
            max_criteria=options.max_criteria,
        )
        written = await writer.write(messages, rules, answer_prefix=_PREFIX)
        if not written.ok:
            last_reason = written.error or "no valid rubric"
            history.append({"attempt": attempt, "error": last_reason})
            continue
        written_any = True
        rubric = Rubric(id=item.id, criteria=tuple(written.criteria))
        # Chosen, then rejected: a prefix-caching judge keeps each response hot.
        graded_chosen = await grader.grade_sample(
            Sample(f"{item.id}:chosen", item.messages, rubric, item.chosen)
        )
        graded_rejected = await grader.grade_sample(
            Sample(f"{item.id}:rejected", item.messages, rubric, item.rejected)
        )
        history.append(
            {"attempt": attempt, "chosen": graded_chosen.score, "rejected": graded_rejected.score}
        )
        if consistent(graded_chosen.score, graded_rejected.score):
            outcome: Outcome = "kept" if attempt == 0 else "regenerated"
            logger.info("item %s: rubric %s after %d attempt(s)", item.id, outcome, attempt + 1)
            return Generated(
                item,
                "contrastive",
                outcome,
                template.version,
                written.criteria,
                attempt + 1,
                [item.id],
                details={"attempts": history},
                judged=True,
            )
        last_reason = (
            f"chosen scored {_score(graded_chosen.score)}, rejected {_score(graded_rejected.score)}"
        )
        feedback = _feedback(written.criteria, graded_chosen, graded_rejected)
    outcome = "dropped" if written_any else "failed"
    logger.info("item %s: %s after %d attempts (%s)", item.id, outcome, attempts, last_reason)
    return Generated(
        item,
        "contrastive",
        outcome,
        template.version,
        attempts=attempts,
        source_ids=[item.id],
        reason=f"{outcome} after {attempts} attempt(s): {last_reason}",
        details={"attempts": history},
        judged=written_any,
    )
