import sqlite3

import pytest

from rubricate.errors import ConfigError
from rubricate.store import Store, judgment_key
from rubricate.types import Verdict


def test_roundtrip_and_errors_not_cached(tmp_path) -> None:
    with Store(tmp_path / "s.sqlite") as store:
        stored = store.put_judgments(
            [
                ("k1", Verdict("a", "met", 0.9, None, "why")),
                ("k2", Verdict("b", "error", explanation="failed")),
                ("k3", Verdict("c", "cannot_assess")),
            ]
        )
        assert stored == 2
        found = store.get_judgments(["k1", "k2", "k3", "missing"])
    assert set(found) == {"k1", "k3"}
    assert (found["k1"].label, found["k1"].probability, found["k1"].explanation) == (
        "met",
        0.9,
        "why",
    )


def test_survives_reopen_in_wal_mode(tmp_path) -> None:
    path = tmp_path / "s.sqlite"
    store = Store(path)
    store.put_judgments([("k", Verdict("a", "not_met"))])
    # Another connection sees the committed row before the first one closes.
    other = sqlite3.connect(path)
    assert other.execute("SELECT label FROM judgments WHERE key='k'").fetchone() == ("not_met",)
    assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    other.close()
    store.close()


def test_key_changes_with_every_part() -> None:
    base = ("judge", "tmpl", "crit", "conv", "per-criterion")
    keys = {judgment_key(*base)}
    for index in range(len(base)):
        changed = list(base)
        changed[index] = changed[index] + "x"
        keys.add(judgment_key(*changed))
    assert len(keys) == len(base) + 1


def test_run_journal_counts_attempts(tmp_path) -> None:
    with Store(tmp_path / "s.sqlite") as store:
        first = store.start_run("r", {"a": 1})
        assert first.attempts == 1
        store.finish_run("r", "failed", None)
        second = store.start_run("r", {"a": 1})
        assert second.attempts == 2
        store.finish_run("r", "complete", {"score": 0.5})
        record = store.get_run("r")
    assert record.status == "complete" and record.summary == {"score": 0.5}


def test_corrupt_file_is_a_config_error(tmp_path) -> None:
    path = tmp_path / "bad.sqlite"
    path.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(ConfigError, match="cannot open the store"):
        Store(path)
