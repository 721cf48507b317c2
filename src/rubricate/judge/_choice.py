"""The one rule that maps a reply token to the answer choice it starts to spell (pure)."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["choice_index"]


def choice_index(token: str, choices: Sequence[str]) -> int | None:
    """The index of the one choice that ``token`` starts to spell, or spells and then closes.

    Both backends that read answer probabilities use this rule: the OpenAI backend on the
    server's top log-probabilities, the llama.cpp backend on its whole vocabulary.

    - Leading whitespace is ignored (tokenizers put the space before a word into its token).
    - Case is ignored, as the verdict parser ignores it (``Met`` is read as ``met``).
    - A token counts when it is a non-empty start of the choice (``m``, ``no``, ``not_``), or
      the whole choice followed by something that cannot continue a word (``met"}``, ``met,``);
      ``meta`` and ``met_`` name no choice.
    - A token that fits several choices (``m`` for ``met`` and ``mostly``) is ambiguous and
      counts for none.
    """
    text = token.lstrip().lower()
    if not text:
        return None
    found: int | None = None
    for index, choice in enumerate(choices):
        wanted = choice.lower()
        if wanted.startswith(text) or (
            text.startswith(wanted) and not _continues_word(text[len(wanted)])
        ):
            if found is not None:
                return None
            found = index
    return found


def _continues_word(character: str) -> bool:
    return character.isalnum() or character == "_"
