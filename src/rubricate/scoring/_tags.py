"""Per-theme and per-cluster run figures, as simple-evals ``healthbench_eval.py`` reports them.

simple-evals gives every example-level tag (``theme:...``) the sample's overall score, and
every rubric-level tag (``cluster:...``, ``level:...``) the score over only the criteria
carrying it, skipped where those criteria have no positive points; then, per tag, the clipped
mean over the samples that have it, their count and a bootstrap std. Here the per-sample parts
come from ``score_sample`` (the sample's ``score`` and its ``clusters``), so a theme or cluster
is scored with the run's own method; with the default ``healthbench`` method and no gates the
numbers are simple-evals' (whose bootstrap is unseeded; this one is seeded).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from rubricate.scoring._core import RunScore, summarize

__all__ = ["THEME_PREFIX", "sample_themes", "summarize_tags"]

THEME_PREFIX = "theme:"


def sample_themes(example_tags: Iterable[object]) -> tuple[str, ...]:
    """The ``theme:...`` tags among a sample's example tags, each once, in order."""
    return tuple(
        dict.fromkeys(t for t in example_tags if isinstance(t, str) and t.startswith(THEME_PREFIX))
    )


def summarize_tags(
    values: Mapping[str, Sequence[float | None]], *, n_bootstrap: int = 1000, seed: int = 0
) -> dict[str, RunScore]:
    """Each tag's run figure (``summarize``: clipped mean, seeded bootstrap std and 95 %
    interval, samples counted) over the sample scores listed under it, sorted by tag.

    A ``None`` (nothing gradable under the tag in that sample) is left out, as simple-evals
    leaves the metric out of that sample.
    """
    return {
        tag: summarize(scores, n_bootstrap=n_bootstrap, seed=seed)
        for tag, scores in sorted(values.items())
    }
