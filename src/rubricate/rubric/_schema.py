"""Criterion and Rubric: the data every stage reads."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Annotated, Any, Generic, Literal, TypeVar, overload

from pydantic import (
    AllowInfNan,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictStr,
    field_validator,
    model_validator,
)

if TYPE_CHECKING:  # typing.Self is 3.11+, and the package supports 3.10
    from typing_extensions import Self

ScaleKind = Literal["binary", "ternary", "ordinal", "blocking"]

# Points and floors beyond this are typing accidents; sums of them stay far from overflow.
POINTS_LIMIT = 1e9


_T = TypeVar("_T")


class _cached(cached_property[_T], Generic[_T]):
    """``functools.cached_property`` without its lock (as in Python 3.12).

    In 3.11 the first read of each instance's value takes one lock shared by all instances of
    the class: the engine pays it twice per criterion (fingerprint, axes), and threads grading
    at once serialise on it. The value is computed from frozen fields, so two threads racing
    store equal values and no lock is needed. Being a ``cached_property``, pydantic still lets
    the cached value be set or deleted on frozen models.
    """

    def __init__(self, func: Callable[[Any], _T]) -> None:
        super().__init__(func)
        self.name = func.__name__

    @overload
    def __get__(self, instance: None, owner: type[Any] | None = None) -> _cached[_T]: ...

    @overload
    def __get__(self, instance: object, owner: type[Any] | None = None) -> _T: ...

    def __get__(self, instance: object, owner: type[Any] | None = None) -> _T | _cached[_T]:
        if instance is None:
            return self
        # Only the first read arrives here: the value then shadows this non-data descriptor.
        value = instance.__dict__[self.name] = self.func(instance)
        return value


def _recomputed(copy: Any, update: Mapping[str, Any] | None) -> None:
    """Drop the cached values a ``model_copy(update=...)`` carried over from the original:
    pydantic copies ``__dict__``, so a fingerprint read before the copy would describe the
    original's fields, and a cache key built from it would answer for another criterion."""
    if update:
        fields = type(copy).model_fields
        for name in [key for key in copy.__dict__ if key not in fields]:
            del copy.__dict__[name]


def _sha256(payload: Any) -> str:
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def derive_criterion_id(text: str) -> str:
    """Stable id for a criterion that came without one: a hash of its whitespace-normalised text."""
    normalised = " ".join(text.split())
    return "c_" + hashlib.sha256(normalised.encode("utf-8")).hexdigest()[:12]


class Scale(BaseModel):
    """How a criterion is judged.

    ``binary``: met / not met. ``ternary``: adds ``partial`` (worth 0.5).
    ``ordinal``: ``levels`` ordered worst to best; level i is worth i / (n - 1).
    ``blocking``: met / not met, plus ``blocked`` (worth 0, counted apart): the response
    relies on a source it must not use (DeepResearch Bench II's -1).
    ``values``: the benchmark's own score of each ordinal level (WritingBench 1..10), so a
    judge may answer ``{"score": N}`` and results can be reported on that scale.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ScaleKind = "binary"
    levels: tuple[StrictStr, ...] = Field(default=(), max_length=100)
    values: tuple[Annotated[StrictFloat, AllowInfNan(False)], ...] = Field(
        default=(), max_length=100
    )

    @model_validator(mode="after")
    def _levels_match_kind(self) -> Scale:
        if self.kind == "ordinal" and len(self.levels) < 2:
            raise ValueError("an ordinal scale needs at least two levels")
        if self.kind != "ordinal" and self.levels:
            raise ValueError(f"a {self.kind} scale takes no levels")
        if self.values and len(self.values) != len(self.levels):
            raise ValueError("an ordinal scale needs one value per level")
        if not all(math.isfinite(v) for v in self.values):
            raise ValueError("the values of an ordinal scale must be finite numbers")
        if len(set(self.values)) != len(self.values):
            raise ValueError("the values of an ordinal scale must differ")
        return self


BINARY = Scale()


class Criterion(BaseModel):
    """One checkable statement about a response.

    ``points`` is signed: a negative criterion is a pitfall, and "met" means the
    undesirable thing happened. ``required`` makes the criterion a gate.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", ignored_types=(_cached,))

    id: StrictStr = ""
    text: StrictStr = Field(min_length=1)
    points: StrictFloat = Field(default=1.0, allow_inf_nan=False, ge=-POINTS_LIMIT, le=POINTS_LIMIT)
    tags: tuple[StrictStr, ...] = ()
    required: StrictBool = False
    scale: Scale = BINARY

    @model_validator(mode="before")
    @classmethod
    def _fill_id(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("id") and isinstance(data.get("text"), str):
            data = {**data, "id": derive_criterion_id(data["text"])}
        return data

    @field_validator("text")
    @classmethod
    def _text_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("criterion text is blank")
        return value

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        copy = super().model_copy(update=update, deep=deep)
        _recomputed(copy, update)
        return copy

    @property
    def is_pitfall(self) -> bool:
        return self.points < 0

    @_cached
    def axes(self) -> tuple[str, ...]:
        """Axis names from ``axis:NAME`` tags."""
        return tuple([t[5:] for t in self.tags if t.startswith("axis:")])

    @_cached
    def fingerprint(self) -> str:
        """What the judge sees of this criterion: text, scale and polarity, not the point value.

        Changing only the points re-scores without re-judging.
        """
        scale = self.scale
        polarity = "pitfall" if self.points < 0 else ""
        if scale.levels or scale.values:
            parts = (
                self.text,
                scale.kind,
                *scale.levels,
                *[f"{v:g}" for v in scale.values],
                polarity,
            )
            text = "\x1f".join(parts)
        else:  # most criteria: the same text, joined without a tuple
            text = f"{self.text}\x1f{scale.kind}\x1f{polarity}"
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Rubric(BaseModel):
    """An ordered list of criteria for one prompt.

    ``gate_floor`` is the score a sample gets when a required criterion fails.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", ignored_types=(_cached,))

    id: StrictStr = ""
    criteria: tuple[Criterion, ...] = Field(min_length=1)
    gate_floor: StrictFloat = Field(
        default=0.0, allow_inf_nan=False, ge=-POINTS_LIMIT, le=POINTS_LIMIT
    )
    metadata: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _ids_unique(self) -> Rubric:
        seen: set[str] = set()
        for criterion in self.criteria:
            if criterion.id in seen:
                raise ValueError(f"criterion id '{criterion.id}' appears twice")
            seen.add(criterion.id)
        return self

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        copy = super().model_copy(update=update, deep=deep)
        _recomputed(copy, update)
        return copy

    @_cached
    def fingerprint(self) -> str:
        """sha256 of the canonical JSON of everything that affects a score (metadata excluded)."""
        return _sha256(
            {
                "id": self.id,
                "gate_floor": self.gate_floor,
                "criteria": [
                    [
                        c.id,
                        c.text,
                        c.points,
                        list(c.tags),
                        c.required,
                        c.scale.kind,
                        list(c.scale.levels),
                        *([list(c.scale.values)] if c.scale.values else []),
                    ]
                    for c in self.criteria
                ],
            }
        )

    @_cached
    def by_id(self) -> dict[str, Criterion]:
        return {c.id: c for c in self.criteria}

    @_cached
    def axes(self) -> tuple[str, ...]:
        """Axis names in order of first appearance."""
        return tuple(dict.fromkeys([a for c in self.criteria for a in c.axes]))
