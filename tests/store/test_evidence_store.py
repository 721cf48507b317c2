"""Quotes are cached beside verdicts, in a table that older stores gain when opened."""

from __future__ import annotations

import sqlite3

from rubricate.store import Store
from rubricate.types import Quote, Verdict


def test_quotes_round_trip_unchecked_and_verdicts_without_evidence_stay_none(tmp_path) -> None:
    with Store(tmp_path / "c.sqlite") as store:
        store.put_judgments(
            [
                ("a", Verdict("", "met", evidence=(Quote("five mg", found=True),))),
                ("b", Verdict("", "not_met", evidence=())),
                ("c", Verdict("", "met")),
            ]
        )
        got = store.get_judgments(["a", "b", "c"])
    # "found" is not stored: it is checked against the response on every run.
    assert got["a"].evidence == (Quote("five mg", found=False),)
    assert got["b"].evidence == ()
    assert got["c"].evidence is None


def test_a_store_from_before_evidence_gains_the_table(tmp_path) -> None:
    path = tmp_path / "old.sqlite"
    with Store(path) as store:
        store.put_judgments([("old", Verdict("", "met", explanation="kept"))])
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE evidence")
    with Store(path) as store:
        assert store.get_judgments(["old"])["old"].explanation == "kept"
        store.put_judgments([("new", Verdict("", "met", evidence=(Quote("q"),)))])
        assert store.get_judgments(["new"])["new"].evidence == (Quote("q"),)
