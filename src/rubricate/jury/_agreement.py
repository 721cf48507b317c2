"""Agreement between judges: Fleiss' kappa, Krippendorff's alpha and each judge against the jury.

Items are ratings of one criterion of one sample; a rating is a category (a verdict label,
with its level on ordinal criteria) or ``None`` when that judge did not decide. Both
statistics are nominal.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping, Sequence

__all__ = ["AgreementTally", "fleiss_kappa", "krippendorff_alpha", "share_agreeing"]

Rating = Hashable | None


def fleiss_kappa(items: Sequence[Sequence[Rating]]) -> float | None:
    """Fleiss' kappa over the items every judge rated (``None`` ratings drop the item).

    Needs at least two judges and one complete item; ``None`` when undefined (fewer items,
    or every rating in one category, where chance agreement is 1).
    """
    complete = [list(item) for item in items if item and all(r is not None for r in item)]
    if not complete:
        return None
    raters = len(complete[0])
    if raters < 2 or any(len(item) != raters for item in complete):
        return None
    totals: Counter[Rating] = Counter()
    observed = 0.0
    for item in complete:
        counts = Counter(item)
        totals.update(counts)
        observed += (sum(n * n for n in counts.values()) - raters) / (raters * (raters - 1))
    n_items = len(complete)
    p_bar = observed / n_items
    all_ratings = n_items * raters
    p_e = sum((n / all_ratings) ** 2 for n in totals.values())
    if p_e >= 1.0:
        return None
    return (p_bar - p_e) / (1.0 - p_e)


def krippendorff_alpha(items: Sequence[Sequence[Rating]]) -> float | None:
    """Krippendorff's alpha (nominal); missing ratings allowed, items with < 2 ratings unused.

    ``None`` when undefined (no pairable item, or a single category: no expected disagreement).
    """
    coincidence: dict[tuple[Rating, Rating], float] = {}
    for item in items:
        values = [r for r in item if r is not None]
        m = len(values)
        if m < 2:
            continue
        counts = Counter(values)
        for c, n_c in counts.items():
            for k, n_k in counts.items():
                pairs = n_c * (n_k - 1) if c == k else n_c * n_k
                if pairs:
                    coincidence[(c, k)] = coincidence.get((c, k), 0.0) + pairs / (m - 1)
    if not coincidence:
        return None
    marginal: dict[Rating, float] = {}
    for (c, _), value in coincidence.items():
        marginal[c] = marginal.get(c, 0.0) + value
    n = sum(marginal.values())
    observed = sum(v for (c, k), v in coincidence.items() if c != k)
    # 1 - D_o / D_e with D_o = observed / n and D_e = sum_{c != k} n_c n_k / (n (n - 1)).
    expected_pairs = n * n - sum(m * m for m in marginal.values())
    if expected_pairs <= 0:
        return None
    return 1.0 - (n - 1) * observed / expected_pairs


def share_agreeing(member: Sequence[Rating], jury: Sequence[Rating]) -> float | None:
    """Share of items where the member's rating equals the jury's (both decided)."""
    pairs = [(m, j) for m, j in zip(member, jury, strict=True) if m is not None and j is not None]
    if not pairs:
        return None
    return sum(1 for m, j in pairs if m == j) / len(pairs)


class AgreementTally:
    """The figures above, accumulated one item at a time (flat memory over a run of any size).

    ``add`` takes one item's ratings by judge and the jury's rating; ``figures`` gives the
    same values as ``fleiss_kappa``, ``krippendorff_alpha`` and ``share_agreeing`` over
    every item added.
    """

    def __init__(self) -> None:
        self.items = 0
        self._raters: int | None = None
        self._uneven = False  # complete items with different numbers of raters: no kappa
        self._complete = 0
        self._observed = 0.0  # sum of P_i over complete items
        self._totals: Counter[Rating] = Counter()
        self._coincidence: dict[tuple[Rating, Rating], float] = {}
        self._decided: Counter[str] = Counter()
        self._paired: Counter[str] = Counter()
        self._agreeing: Counter[str] = Counter()
        self.judges: list[str] = []

    def add(self, ratings: Mapping[str, Rating], jury: Rating) -> None:
        self.items += 1
        for judge, rating in ratings.items():
            if judge not in self._decided:
                self.judges.append(judge)
                self._decided[judge] += 0
            if rating is not None:
                self._decided[judge] += 1
                if jury is not None:
                    self._paired[judge] += 1
                    self._agreeing[judge] += rating == jury
        values = [r for r in ratings.values() if r is not None]
        counts = Counter(values)
        m = len(values)
        if m >= 2:
            for c, n_c in counts.items():
                for k, n_k in counts.items():
                    pairs = n_c * (n_k - 1) if c == k else n_c * n_k
                    if pairs:
                        key = (c, k)
                        self._coincidence[key] = self._coincidence.get(key, 0.0) + pairs / (m - 1)
        if ratings and m == len(ratings):
            if self._raters is None:
                self._raters = m
            elif self._raters != m:
                self._uneven = True
            self._complete += 1
            self._totals.update(counts)
            if m >= 2:
                self._observed += (sum(n * n for n in counts.values()) - m) / (m * (m - 1))

    def fleiss_kappa(self) -> float | None:
        raters = self._raters
        if self._uneven or not self._complete or raters is None or raters < 2:
            return None
        p_bar = self._observed / self._complete
        all_ratings = self._complete * raters
        p_e = sum((n / all_ratings) ** 2 for n in self._totals.values())
        return None if p_e >= 1.0 else (p_bar - p_e) / (1.0 - p_e)

    def krippendorff_alpha(self) -> float | None:
        if not self._coincidence:
            return None
        marginal: dict[Rating, float] = {}
        for (c, _), value in self._coincidence.items():
            marginal[c] = marginal.get(c, 0.0) + value
        n = sum(marginal.values())
        observed = sum(v for (c, k), v in self._coincidence.items() if c != k)
        expected_pairs = n * n - sum(m * m for m in marginal.values())
        return None if expected_pairs <= 0 else 1.0 - (n - 1) * observed / expected_pairs

    def agreement_with_jury(self, judge: str) -> float | None:
        paired = self._paired[judge]
        return self._agreeing[judge] / paired if paired else None

    def decided(self, judge: str) -> int:
        return self._decided[judge]
