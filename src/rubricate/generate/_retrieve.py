"""``retrieve``: condition generation on the rubrics of the k most similar prompts in a bank.

The bank is indexed with BM25 (``bm25s``, the ``generate`` extra) and, with an embedder,
also by cosine similarity; the two rankings are fused by reciprocal rank.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rubricate.errors import InputError, MissingDependency
from rubricate.formats import iter_jsonl, messages_from, rubric_from
from rubricate.generate._dedup import Embedder
from rubricate.generate._from_prompt import from_prompt
from rubricate.generate._types import Generated, GenerationItem
from rubricate.generate._write import Writer
from rubricate.rubric import Criterion

__all__ = ["BankEntry", "RubricBank", "retrieve"]

logger = logging.getLogger(__name__)

_RRF_K = 60  # the usual reciprocal-rank-fusion constant


@dataclass(frozen=True, slots=True)
class BankEntry:
    """A prompt with its rubric."""

    id: str
    prompt: str
    criteria: tuple[Criterion, ...]


def _bm25s() -> Any:
    try:
        import bm25s
    except ImportError as error:
        raise MissingDependency("bm25s", "generate") from error
    return bm25s


def _tokens(texts: Sequence[str]) -> list[list[str]]:
    tokenized = _bm25s().tokenize(
        list(texts), stopwords="en", return_ids=False, show_progress=False
    )
    return [list(t) for t in tokenized]


class RubricBank:
    """Existing rubrics indexed by their prompts."""

    def __init__(self, entries: Iterable[BankEntry], *, embedder: Embedder | None = None) -> None:
        self.entries = list(entries)
        if not self.entries:
            raise InputError("the rubric bank is empty")
        bm25s = _bm25s()
        self._bm25 = bm25s.BM25()
        self._bm25.index(_tokens([e.prompt for e in self.entries]), show_progress=False)
        self.embedder = embedder
        self._vectors = embedder.encode([e.prompt for e in self.entries]) if embedder else None

    @classmethod
    def from_jsonl(cls, path: str | Path, *, embedder: Embedder | None = None) -> RubricBank:
        """A bank from HealthBench-schema lines (``prompt``, ``rubrics``, ``prompt_id``), e.g. a generate output."""
        name = str(path)
        entries = []
        for number, record in iter_jsonl(path):
            if isinstance(record, InputError):
                raise record
            try:
                entry_id = str(record.get("prompt_id") or record.get("id") or f"line-{number}")
                messages = messages_from(record.get("prompt") or record.get("question"), "prompt")
                rubric = rubric_from(
                    record.get("rubrics") or record.get("rubric"), "rubrics", entry_id
                )
            except ValueError as error:
                raise InputError(str(error), file=name, line=number) from error
            text = (
                "\n".join(m.content for m in messages if m.role == "user") or messages[-1].content
            )
            entries.append(BankEntry(entry_id, text, rubric.criteria))
        return cls(entries, embedder=embedder)

    def search(
        self, query: str, k: int, *, exclude: Iterable[str] = ()
    ) -> list[tuple[BankEntry, float]]:
        """The ``k`` entries most similar to ``query`` with their scores, best first.

        Entries whose id is in ``exclude`` or whose prompt equals ``query`` never come back, so an
        item cannot retrieve its own rubric.
        """
        banned = set(exclude)
        allowed = [
            i
            for i, e in enumerate(self.entries)
            if e.id not in banned and e.prompt.strip() != query.strip()
        ]
        if not allowed or k <= 0:
            return []
        n = len(self.entries)
        query_tokens = _tokens([query])
        documents, scores = self._bm25.retrieve(query_tokens, k=n, show_progress=False)
        bm25_rank = [int(d) for d, s in zip(documents[0], scores[0], strict=True) if s > 0]
        rankings = [bm25_rank]
        if self.embedder is not None and self._vectors is not None:
            similarity = self._vectors @ self.embedder.encode([query])[0]
            rankings.append([int(i) for i in np.argsort(-similarity, kind="stable")])
        fused: dict[int, float] = {}
        for ranking in rankings:
            for rank, index in enumerate(ranking):
                fused[index] = fused.get(index, 0.0) + 1.0 / (_RRF_K + rank + 1)
        allowed_set = set(allowed)
        best = sorted((i for i in fused if i in allowed_set), key=lambda i: (-fused[i], i))[:k]
        return [(self.entries[i], fused[i]) for i in best]


async def retrieve(
    item: GenerationItem, writer: Writer, bank: RubricBank, *, k: int = 3
) -> Generated:
    """``from-prompt`` conditioned on the rubrics of the ``k`` bank prompts most similar to ``item``'s."""
    query = "\n".join(m.content for m in item.messages if m.role == "user") or item.prompt_text
    hits = bank.search(query, k, exclude=[item.id])
    logger.info("item %s: retrieved %s", item.id, [e.id for e, _ in hits])
    examples = [(e.id, e.prompt, e.criteria) for e, _ in hits]
    generated = await from_prompt(item, writer, examples=examples, strategy="retrieve")
    generated.details["retrieved"] = [{"id": e.id, "score": round(s, 6)} for e, s in hits]
    return generated
