"""``from-prompt``: a rubric from the prompt alone, optionally with a reference answer and examples."""

from __future__ import annotations

from collections.abc import Sequence

from rubricate.generate._templates import load_generation_template
from rubricate.generate._types import Generated, GenerationItem
from rubricate.generate._validate import Rules
from rubricate.generate._write import Writer
from rubricate.rubric import Criterion

__all__ = ["Example", "from_prompt", "render_examples"]

_REFERENCE = (
    "\nA reference answer follows. Criteria may check for its key points, but must not mention it.\n"
    "<reference-answer>\n{text}\n</reference-answer>\n"
)
_EXAMPLES_HEAD = (
    "Rubrics written for similar prompts follow, to show the expected style and level of detail. "
    "Do not copy a criterion that does not apply to the prompt below.\n"
)


Example = tuple[str, str, Sequence[Criterion]]  # (source id, prompt text, criteria)


def render_examples(examples: Sequence[Example], *, max_prompt_chars: int = 1200) -> str:
    """The examples block of the prompt (empty without examples)."""
    if not examples:
        return ""
    blocks = [_EXAMPLES_HEAD]
    for _, prompt, criteria in examples:
        shown = prompt if len(prompt) <= max_prompt_chars else prompt[:max_prompt_chars] + " [...]"
        lines = "\n".join(f"- [{c.points:+g}] {c.text}" for c in criteria)
        blocks.append(f"<example>\nPrompt:\n{shown}\nCriteria:\n{lines}\n</example>\n")
    return "\n".join(blocks) + "\n"


async def from_prompt(
    item: GenerationItem,
    writer: Writer,
    *,
    examples: Sequence[Example] = (),
    strategy: str = "from-prompt",
) -> Generated:
    """Write a rubric for ``item``'s prompt (and reference answer, when it has one)."""
    template = load_generation_template("from_prompt_v1")
    options = writer.options
    messages = template.render(
        examples=render_examples(examples),
        prompt=item.prompt_text,
        reference=_REFERENCE.format(text=item.reference) if item.reference else "",
        min_criteria=options.min_criteria,
        max_criteria=options.max_criteria,
    )
    context = "\n".join([item.prompt_text, item.reference or ""])
    written = await writer.write(messages, Rules(context=context))
    sources = [item.id, *(source for source, _, _ in examples)]
    details = {"calls": written.calls, "rejected": len(written.rejections)}
    if not written.ok:
        return Generated(
            item,
            strategy,
            "failed",
            template.version,
            source_ids=sources,
            reason=written.error,
            details=details,
        )
    return Generated(
        item,
        strategy,
        "kept",
        template.version,
        written.criteria,
        source_ids=sources,
        details=details,
    )
