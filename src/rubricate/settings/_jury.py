"""Jury files (``--jury FILE``, JSON or TOML): which judges vote and by which rule.

```toml
rule = "majority"            # majority | weighted | unanimous | any
[[judges]]
url = "http://127.0.0.1:8000/v1"
model = "qwen2.5-1.5b"
weight = 1.0
[[judges]]
local_model = "smollm2-360m"  # the embedded llama.cpp judge
```

Each member is built like the single judge (``build_judge``) from the judge settings with
its own URL and model, so it has its own fingerprint (cache key), retries, limits and
circuit breaker.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Collection
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from rubricate.errors import InputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found,no-redef,unused-ignore]

__all__ = ["JuryFile", "JuryMemberSpec", "read_jury_file"]


class JuryMemberSpec(BaseModel):
    """One judge of a jury: a server (``url`` + ``model``) or the embedded judge (``local_model``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str | None = Field(default=None, description="OpenAI-compatible base URL (…/v1).")
    urls: list[str] = Field(default_factory=list, description="Several URLs: a pool.")
    model: str | None = Field(default=None, description="Model name on the server.")
    local_model: str | None = Field(
        default=None, description="Embedded judge: a GGUF path or a known model name."
    )
    weight: float = Field(
        default=1.0, gt=0, allow_inf_nan=False, strict=True, description="Vote weight (> 0)."
    )
    name: str | None = Field(default=None, description="Label in reports (default: the model).")

    @model_validator(mode="after")
    def _one_kind(self) -> JuryMemberSpec:
        remote = self.url is not None or bool(self.urls)
        if remote == (self.local_model is not None):
            raise ValueError("needs either 'url' (with 'model') or 'local_model'")
        if remote and not self.model:
            raise ValueError("a judge with 'url' needs 'model'")
        return self

    @property
    def all_urls(self) -> list[str]:
        return ([self.url] if self.url else []) + list(self.urls)


class JuryFile(BaseModel):
    """A jury: its judges and its rule."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    judges: list[JuryMemberSpec] = Field(min_length=2)
    rule: Literal["majority", "weighted", "unanimous", "any"] = "majority"


def _line_of(text: str, location: tuple[int | str, ...]) -> int | None:
    """Best line for an error at ``location`` (e.g. ``('judges', 1, 'weight')``): the n-th
    judge entry's key, else that entry's start, else the top-level key."""
    if len(location) >= 2 and location[0] == "judges" and isinstance(location[1], int):
        index = location[1]
        if "[[judges]]" in text:
            starts = [m.start() for m in re.finditer(r"\[\[judges\]\]", text)]
        else:  # JSON or an inline TOML list: one brace per entry (entries hold no objects)
            starts = [m.start() for m in re.finditer(r"\{", text)]
            starts = starts[1:] if text.lstrip().startswith("{") else starts
        if index < len(starts):
            begin = starts[index]
            end = starts[index + 1] if index + 1 < len(starts) else len(text)
            if len(location) >= 3:
                key = re.search(
                    rf'["\s{{,]{re.escape(str(location[2]))}["\s]*[=:]', text[begin:end]
                )
                if key is not None:
                    begin += key.start() + 1
            return text.count("\n", 0, begin) + 1
    if location:
        key = re.search(rf'^\s*"?{re.escape(str(location[0]))}"?\s*[=:]', text, re.MULTILINE)
        if key is not None:
            return text.count("\n", 0, key.start()) + 1
    return None


def read_jury_file(path: str | Path, *, rules: Collection[str] | None = None) -> JuryFile:
    """Read and check a jury file; a bad one raises ``InputError`` naming file, line and field.

    Two entries for the same judge (same URLs and model, or same local model) or with the
    same name are refused: the second would copy the first's cached votes, or hide it in
    reports. ``rules`` narrows the rules a stage accepts (a comparison has no ``any``).
    """
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(f"cannot read the jury file: {error.strerror}", file=name) from error
    try:
        toml = Path(path).suffix.lower() == ".toml"
        data = tomllib.loads(text) if toml else json.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InputError(f"not valid TOML: {error}", file=name) from error
    except json.JSONDecodeError as error:
        raise InputError(f"not valid JSON: {error.msg}", file=name, line=error.lineno) from error
    if not isinstance(data, dict):
        raise InputError('expected an object {"judges": [...], "rule": ...}', file=name, line=1)
    try:
        jury = JuryFile.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        location = tuple(first["loc"])
        field = ".".join(str(p) for p in location) or None
        message = first["msg"].removeprefix("Value error, ")
        raise InputError(message, file=name, line=_line_of(text, location), field=field) from error
    seen: dict[tuple[object, ...], int] = {}
    for index, judge in enumerate(jury.judges):
        identities: list[tuple[object, ...]] = [
            ("judge", tuple(sorted(judge.all_urls)), judge.model, judge.local_model)
        ]
        if judge.name:
            identities.append(("name", judge.name))
        for identity in identities:
            if identity in seen:
                what = "name" if identity[0] == "name" else "judge"
                raise InputError(
                    f"the same {what} as judges.{seen[identity]}",
                    file=name,
                    line=_line_of(text, ("judges", index, *(["name"] if what == "name" else []))),
                    field=f"judges.{index}" + (".name" if what == "name" else ""),
                )
            seen[identity] = index
    if rules is not None and jury.rule not in rules:
        raise InputError(
            f"rule '{jury.rule}' is not usable here (expected one of {', '.join(rules)})",
            file=name,
            line=_line_of(text, ("rule",)),
            field="rule",
        )
    return jury
