"""SQLite store: a content-addressed judgment cache and a run journal.

One file, WAL mode, ``synchronous=NORMAL``: a committed judgment survives the process
being killed (kill -9 included); only a power loss can cost the last commits.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rubricate.errors import ConfigError
from rubricate.types import Quote, RawReply, Verdict

__all__ = ["RunRecord", "Store", "judgment_key", "open_store", "response_key"]

logger = logging.getLogger(__name__)

_WAY_OUT = "use --cache with another path, run with --no-cache, or delete the file to rebuild it"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS judgments (
    key TEXT PRIMARY KEY,
    label TEXT NOT NULL,
    probability REAL,
    level INTEGER,
    explanation TEXT,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    text TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    started REAL NOT NULL,
    finished REAL,
    summary TEXT
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- The judge's quotes (a JSON list of strings) for judgments asked with evidence. A table of
-- its own, so stores written before it existed, and rubricate versions that predate it,
-- keep working unchanged (no schema bump). Created last, so
-- the older tables keep their place in a new file.
CREATE TABLE IF NOT EXISTS evidence (key TEXT PRIMARY KEY, quotes TEXT NOT NULL);
-- Raw judge replies, for runs that keep them (--keep-replies); tables of their own for the
-- same reason as evidence. A reply is stored once under its digest: a grouped reply decides
-- several judgments, each of which points to it. Runs that do not keep replies write nothing
-- here, so their cache does not grow.
CREATE TABLE IF NOT EXISTS replies (digest TEXT PRIMARY KEY, text TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS judgment_replies (
    key TEXT PRIMARY KEY,
    digest TEXT NOT NULL,
    reasks INTEGER NOT NULL
);
"""
_SCHEMA_VERSION = "1"

# A cached verdict whose reply was not stored with it (see ``get_judgments``).
_NOT_CACHED = RawReply(None, 0, "not_cached")

# Never cached: an error is retried on the next run.
_CACHEABLE = frozenset({"met", "not_met", "partial", "cannot_assess"})


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def judgment_key(
    judge_fingerprint: str,
    template_version: str,
    criterion_fingerprint: str,
    conversation_hash: str,
    mode: str,
) -> str:
    """Cache key of one criterion's verdict: everything that can change what the judge says."""
    return _digest(
        judge_fingerprint, template_version, criterion_fingerprint, conversation_hash, mode
    )


def response_key(policy_fingerprint: str, conversation_hash: str, sample_id: str) -> str:
    """Cache key of a sampled policy response."""
    return _digest(policy_fingerprint, conversation_hash, sample_id)


def _set_wal(db: sqlite3.Connection, patience_s: float = 30.0) -> None:
    """Switch to WAL; SQLite answers "locked" at once, without waiting, while another
    connection switches it too, so retry for a bounded time."""
    deadline = time.monotonic() + patience_s
    pause = 0.005
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.2)


@dataclass(frozen=True, slots=True)
class RunRecord:
    run_id: str
    status: str
    attempts: int
    started: float
    finished: float | None
    summary: dict[str, Any] | None


class Store:
    """Judgment cache, sampled-response cache and run journal in one SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        # Why the cache started empty although its file existed (``None``: it did not).
        self.rebuilt: str | None = None
        if self.path != ":memory:":
            file = Path(self.path)
            try:
                file.parent.mkdir(parents=True, exist_ok=True)
                if file.is_file() and file.stat().st_size == 0:
                    self.rebuilt = "the cache file was empty (0 bytes); a new cache was started"
            except OSError as error:
                raise ConfigError(
                    f"cannot use the cache at {self.path}: {error}; {_WAY_OUT}"
                ) from error
        with self._guard("open"):
            # Several processes may open a new file at once (verl's reward workers): wait for
            # locks from the first statement on, and create the schema in one write transaction.
            self._db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30.0
            )
            self._db.execute("PRAGMA busy_timeout=30000")
            _set_wal(self._db)
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript("BEGIN IMMEDIATE;" + _SCHEMA + "COMMIT;")
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (_SCHEMA_VERSION,))
            row = self._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        if row is None:
            raise ConfigError(f"the store at {self.path} has no schema version; {_WAY_OUT}")
        if row[0] != _SCHEMA_VERSION:
            raise ConfigError(
                f"the store at {self.path} has schema {row[0]}; this rubricate reads {_SCHEMA_VERSION}"
            )
        if self.rebuilt is not None:
            logger.warning("cache %s: %s", self.path, self.rebuilt)

    @contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        """SQLite failures (corrupted pages, a read-only file, a full disk) as a ``ConfigError``
        that names the file and the way out, never a traceback."""
        try:
            yield
        except sqlite3.Error as error:
            raise ConfigError(
                f"cannot {action} the store at {self.path}: {error}; {_WAY_OUT}"
            ) from error

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # judgments ---------------------------------------------------------------

    def get_judgments(self, keys: Sequence[str], *, replies: bool = False) -> dict[str, Verdict]:
        """Cached verdicts for ``keys`` (criterion ids are left blank; the caller knows them).

        With ``replies``, each verdict carries the reply that decided it, or a reply marked
        ``not_cached`` when the judgment was stored without one.
        """
        found: dict[str, Verdict] = {}
        with self._guard("read"):
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    "SELECT j.key, j.label, j.probability, j.level, j.explanation, e.quotes "
                    "FROM judgments j LEFT JOIN evidence e ON e.key = j.key "
                    f"WHERE j.key IN ({marks})",
                    chunk,
                ).fetchall()
                kept = self._replies(chunk) if replies else {}
                for key, label, probability, level, explanation, quotes in rows:
                    # Quotes come back unchecked: the grader checks them against the response.
                    evidence = (
                        None
                        if quotes is None
                        else tuple(Quote(str(text)) for text in json.loads(quotes))
                    )
                    reply = kept.get(key, _NOT_CACHED) if replies else None
                    found[key] = Verdict(
                        "", label, probability, level, explanation, evidence=evidence, reply=reply
                    )
        return found

    def _replies(self, keys: Sequence[str]) -> dict[str, RawReply]:
        marks = ",".join("?" * len(keys))
        rows = self._db.execute(
            "SELECT j.key, r.text, j.reasks FROM judgment_replies j "
            f"JOIN replies r ON r.digest = j.digest WHERE j.key IN ({marks})",
            keys,
        ).fetchall()
        # One object per distinct reply, so the judgments a grouped reply decided share it.
        shared: dict[tuple[str, int], RawReply] = {}
        return {
            key: shared.setdefault((text, reasks), RawReply(str(text), int(reasks)))
            for key, text, reasks in rows
        }

    def put_judgments(self, items: Iterable[tuple[str, Verdict]]) -> int:
        """Store verdicts (errors are skipped) and commit at once; returns how many were stored."""
        now = time.time()
        kept = [(key, v) for key, v in items if v.label in _CACHEABLE]
        rows = [(key, v.label, v.probability, v.level, v.explanation, now) for key, v in kept]
        quotes = [
            (key, json.dumps([q.text for q in v.evidence], ensure_ascii=False))
            for key, v in kept
            if v.evidence is not None
        ]
        texts: dict[str, str] = {}
        reply_rows = []
        for key, v in kept:
            if v.reply is not None and v.reply.text is not None:
                digest = hashlib.sha256(v.reply.text.encode("utf-8")).hexdigest()
                texts[digest] = v.reply.text
                reply_rows.append((key, digest, v.reply.reasks))
        if rows:
            with self._guard("write"):
                self._db.execute("BEGIN")
                try:
                    self._db.executemany(
                        "INSERT OR REPLACE INTO judgments VALUES (?, ?, ?, ?, ?, ?)", rows
                    )
                    if quotes:
                        self._db.executemany(
                            "INSERT OR REPLACE INTO evidence VALUES (?, ?)", quotes
                        )
                    if reply_rows:
                        self._db.executemany(
                            "INSERT OR IGNORE INTO replies VALUES (?, ?)", list(texts.items())
                        )
                        self._db.executemany(
                            "INSERT OR REPLACE INTO judgment_replies VALUES (?, ?, ?)",
                            reply_rows,
                        )
                except BaseException:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
        return len(rows)

    def count_judgments(self) -> int:
        with self._guard("read"):
            return int(self._db.execute("SELECT COUNT(*) FROM judgments").fetchone()[0])

    # sampled responses -------------------------------------------------------

    def get_response(self, key: str) -> str | None:
        with self._guard("read"):
            row = self._db.execute("SELECT text FROM responses WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def put_response(self, key: str, text: str) -> None:
        with self._guard("write"):
            self._db.execute(
                "INSERT OR REPLACE INTO responses VALUES (?, ?, ?)", (key, text, time.time())
            )

    # run journal -------------------------------------------------------------

    def start_run(self, run_id: str, config: dict[str, Any]) -> RunRecord:
        """Record that a run started; a run id seen before counts as a resumed attempt."""
        previous = self.get_run(run_id)
        now = time.time()
        with self._guard("write"):
            if previous is None:
                self._db.execute(
                    "INSERT INTO runs VALUES (?, ?, 'running', 1, ?, NULL, NULL)",
                    (run_id, json.dumps(config, sort_keys=True), now),
                )
            else:
                self._db.execute(
                    "UPDATE runs SET status='running', attempts=attempts+1, finished=NULL WHERE run_id=?",
                    (run_id,),
                )
        return RunRecord(
            run_id,
            "running",
            1 if previous is None else previous.attempts + 1,
            now if previous is None else previous.started,
            None,
            None,
        )

    def finish_run(self, run_id: str, status: str, summary: dict[str, Any] | None) -> None:
        with self._guard("write"):
            self._db.execute(
                "UPDATE runs SET status=?, finished=?, summary=? WHERE run_id=?",
                (status, time.time(), json.dumps(summary) if summary is not None else None, run_id),
            )

    def get_run(self, run_id: str) -> RunRecord | None:
        with self._guard("read"):
            row = self._db.execute(
                "SELECT run_id, status, attempts, started, finished, summary FROM runs WHERE run_id=?",
                (run_id,),
            ).fetchone()
        if row is None:
            return None
        return RunRecord(
            row[0], row[1], row[2], row[3], row[4], json.loads(row[5]) if row[5] else None
        )


def open_store(store: Store | str | Path | None) -> tuple[Store | None, bool]:
    """``store`` as a ``Store`` (opening a path), and whether the caller owns (must close) it."""
    if store is None or isinstance(store, Store):
        return store, False
    return Store(store), True
