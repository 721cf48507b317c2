"""One writer per results file: an advisory lock beside it, held while a run writes.

The lock is ``flock`` on ``<results>.lock``. The kernel drops it when its process ends, however
it ends, so a lock left by a ``kill -9`` is only a file whose lock nobody holds: the next run
takes it over (and says so). The file holds the owner's pid, host and start time, for the
message a second run gets.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import time
from pathlib import Path

from rubricate.errors import ConfigError

__all__ = ["RunLock", "check_run_dir"]

logger = logging.getLogger(__name__)


def _holder(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    return os.read(fd, 512).decode("utf-8", "replace").strip()


class RunLock:
    """The lock of one results file (``<results>.lock``); ``acquire`` fails at once when held.

    Raises ``ConfigError`` (CLI exit 2) naming the run that holds it.
    """

    def __init__(self, results: str | Path) -> None:
        self.results = Path(results)
        self.path = self.results.with_name(self.results.name + ".lock")
        self.taken_over: str | None = None  # the owner a killed run left in the file
        self._fd: int | None = None

    def _refused(self, holder: str) -> ConfigError:
        return ConfigError(
            f"{self.results.parent} is being written by another run ({holder or 'owner unknown'}; "
            f"lock {self.path}): wait for it to end or write elsewhere with --out"
        )

    def acquire(self) -> None:
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as error:
                raise ConfigError(f"cannot lock {self.path}: {error.strerror}") from error
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _holder(fd)
                os.close(fd)
                raise self._refused(holder) from None
            except OSError as error:  # e.g. a file system without locks
                os.close(fd)
                raise ConfigError(f"cannot lock {self.path}: {error.strerror}") from error
            # A run that just finished unlinks the file after we opened it: our lock would
            # then be on a name nobody else sees, so lock the file now at the path instead.
            try:
                current = os.stat(self.path).st_ino
            except FileNotFoundError:
                current = None
            if current != os.fstat(fd).st_ino:
                os.close(fd)
                continue
            break
        previous = _holder(fd)
        if previous:
            self.taken_over = previous
            logger.warning(
                "%s: taking over the lock of a run that ended without releasing it (%s)",
                self.path,
                previous,
            )
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()} since {started}\n".encode())
        self._fd = fd

    def release(self) -> None:
        """Remove the file and drop the lock (the order matters: see ``acquire``)."""
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def check_run_dir(out: str | Path, results: str = "results.jsonl") -> None:
    """Fail early (``ConfigError``) when ``out`` cannot be a run directory: a file, or a
    directory another live run is writing. The run's own lock is taken later, by ``RunWriter``;
    this lets a command refuse before it reads its data or builds a judge."""
    directory = Path(out)
    for folder in (directory, *directory.parents):
        if folder.exists():
            if not folder.is_dir():
                where = "" if folder == directory else f" (at {folder})"
                raise ConfigError(f"--out {directory}: is a file{where}; a run directory is needed")
            break
    target = directory / results
    if target.is_dir():
        raise ConfigError(f"--out {directory}: {target} is a directory, not a results file")
    if directory.is_dir():
        with RunLock(target):
            pass
