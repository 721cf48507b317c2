"""``nuggets``: atomic information points of reference answers or passages, as criteria."""

from __future__ import annotations

from dataclasses import replace

from rubricate.generate._templates import load_generation_template
from rubricate.generate._types import Generated, GenerationItem
from rubricate.generate._validate import Rules
from rubricate.generate._write import Writer

__all__ = ["nuggets"]

# A nugget is neither a hard rule nor a principle, and is only ever essential or important.
NUGGET_RULES = Rules(
    kinds=frozenset({"nugget"}),
    importances=frozenset({"essential", "important"}),
    default_kind="nugget",
    default_axis="completeness",
)


async def nuggets(item: GenerationItem, writer: Writer) -> Generated:
    """Criteria "States that <fact>" for the facts of ``item``'s reference answer and passages."""
    template = load_generation_template("nuggets_v1")
    reference = "\n\n".join(p for p in (item.reference, *item.passages) if p and p.strip())
    if not reference:
        return Generated(
            item,
            "nuggets",
            "failed",
            template.version,
            source_ids=[item.id],
            reason="no reference answer or passages to extract nuggets from",
        )
    options = writer.options
    messages = template.render(
        prompt=item.prompt_text,
        reference=reference,
        min_criteria=options.min_criteria,
        max_criteria=options.max_criteria,
    )
    # The context is the reference alone: a nugget must come from it, not from the question.
    written = await writer.write(messages, replace(NUGGET_RULES, context=reference))
    details = {"calls": written.calls, "rejected": len(written.rejections)}
    if not written.ok:
        return Generated(
            item,
            "nuggets",
            "failed",
            template.version,
            source_ids=[item.id],
            reason=written.error,
            details=details,
        )
    return Generated(
        item,
        "nuggets",
        "kept",
        template.version,
        written.criteria,
        source_ids=[item.id],
        details=details,
    )
