"""The README's code blocks, read from the README itself, so the tests exercise what users paste."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def section(heading: str) -> str:
    """The text of the README section whose ``## `` heading starts with ``heading``."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"## {heading}")
    following = text.find("\n## ", start + 3)
    return text[start : following if following >= 0 else len(text)]


def code_blocks(heading: str, language: str) -> list[str]:
    """The ``language`` fenced blocks of a section, in order."""
    return re.findall(rf"```{language}\n(.*?)```", section(heading), re.DOTALL)


def command_words(block: str) -> list[str]:
    """A shell command's words as the shell splits them (continuations joined, $(...) kept)."""
    return shlex.split(block.replace("\\\n", " "))
