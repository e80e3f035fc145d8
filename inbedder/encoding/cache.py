"""On-disk cache of embeddings and answers, written as they are computed.

One SQLite file keyed by a hash of (everything that changes the result, text). Rows are
committed after every batch, so an interrupted run resumes where it stopped and re-running
with another k or another clustering setting is instant.

The cache only ever holds work that can be redone, so a problem with it is never fatal to the
user's data: a damaged row is recomputed (with one warning), and a file that is not a usable
SQLite database fails in one line naming the file and the two fixes (delete it, or cache=False).
One object may be shared by several threads (the explorer's reruns): every operation holds a lock.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import sqlite3
import threading
from collections import Counter
from pathlib import Path
from typing import Iterable

import numpy as np

from inbedder.errors import InBedderError, one_line

logger = logging.getLogger(__name__)

_COLUMNS = {"key", "vector", "answer"}
_PARAMETERS = 900  # SQLite's limit on bound parameters (999 in old builds)
_CORRUPT = {"SQLITE_NOTADB", "SQLITE_CORRUPT", "SQLITE_FORMAT", "SQLITE_SCHEMA", "SQLITE_MISMATCH"}
_BUSY = {"SQLITE_BUSY", "SQLITE_LOCKED"}


def settings_key(settings: dict) -> str:
    """A stable digest of the settings that determine an embedding."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()


class EmbeddingCache:
    """Embeddings (float32) and answers per (settings, text), in one SQLite file."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.RLock()
        memory = str(path) == ":memory:"
        if not memory:
            self._check_location()
        try:
            self._db = sqlite3.connect(str(path), timeout=60, check_same_thread=False)
        except sqlite3.Error as error:
            raise self._error(error) from error
        try:
            self._probe()
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, vector BLOB, answer TEXT)")
            self._db.commit()
            self._check_schema()
        except sqlite3.Error as error:
            self._db.close()
            raise self._error(error) from error
        except InBedderError:
            self._db.close()
            raise

    def _check_location(self) -> None:
        """The folder must exist (made if needed) and the path must not be a folder."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise InBedderError(
                f"cannot create the folder of the embedding cache {self.path} ({error.strerror or error}); "
                "set INBEDDER_CACHE to a writable folder or pass `cache=False`",
                parameter="cache",
            ) from error
        if self.path.is_dir():
            raise InBedderError(
                f"the embedding cache {self.path} is a folder, not a file; remove it or pass `cache=False`",
                parameter="cache",
            )

    def _probe(self) -> None:
        """Read the header and schema, so a file that is not an SQLite database fails here, not mid-run.

        ``PRAGMA quick_check`` would read the whole file (minutes for a big cache); this reads
        page 1, the tail of the table and compares the header's page count with the file size,
        which catches random bytes, text files and truncated copies.
        """
        self._db.execute("SELECT name FROM sqlite_master LIMIT 1").fetchall()
        if str(self.path) != ":memory:" and self.path.is_file():
            pages = self._db.execute("PRAGMA page_count").fetchone()[0]
            page_size = self._db.execute("PRAGMA page_size").fetchone()[0]
            size = self.path.stat().st_size
            if size and size < pages * page_size and not self.path.with_name(self.path.name + "-wal").exists():
                raise InBedderError(
                    f"the embedding cache {self.path} is truncated ({size} bytes, its header says "
                    f"{pages * page_size}); delete the file (it holds only cached embeddings) or pass `cache=False`",
                    parameter="cache",
                )

    def _check_schema(self) -> None:
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(entries)")}
        if not _COLUMNS <= columns:
            raise InBedderError(
                f"{self.path} is an SQLite file but not an InBedder embedding cache (its 'entries' table has columns "
                f"{', '.join(sorted(columns))}); delete it, point INBEDDER_CACHE elsewhere, or pass `cache=False`",
                parameter="cache",
            )
        self._db.execute("SELECT key, vector, answer FROM entries ORDER BY rowid DESC LIMIT 1").fetchall()

    def _error(self, error: sqlite3.Error) -> InBedderError:
        """One line for an SQLite failure: what is wrong with which file, and how to fix it."""
        reason = one_line(error, limit=200)
        code = getattr(error, "sqlite_errorname", "")
        if code in _BUSY or "locked" in reason:
            return InBedderError(
                f"the embedding cache {self.path} is locked by another process ({reason}); wait for it to finish or pass `cache=False`",
                parameter="cache",
            )
        corrupt = isinstance(error, sqlite3.DatabaseError) and not isinstance(error, sqlite3.OperationalError)
        if corrupt or code in _CORRUPT or "malformed" in reason or "not a database" in reason:
            return InBedderError(
                f"the embedding cache {self.path} is damaged or not an SQLite file ({reason}); "
                "delete the file (it holds only cached embeddings) or pass `cache=False`",
                parameter="cache",
            )
        return InBedderError(
            f"cannot use the embedding cache {self.path} ({reason}); set INBEDDER_CACHE to a writable folder, "
            "delete the file, or pass `cache=False`",
            parameter="cache",
        )

    @staticmethod
    def key(settings_digest: str, text: str) -> str:
        return hashlib.sha256(f"{settings_digest}\x00{text}".encode()).hexdigest()

    def get(self, keys: list[str], *, dim: int | None = None) -> dict[str, tuple[np.ndarray | None, str | None]]:
        """Cached (vector, answer) for the keys that have a usable row.

        A damaged vector (a blob whose length is not whole float32s, an empty one, one of another
        length than ``dim``, or when ``dim`` is None one whose length differs from the most common
        length among these rows) is returned as missing, so the caller recomputes it; one warning
        says how many. A damaged answer (not text) is returned as missing likewise.
        """
        rows: list[tuple[str, object, object]] = []
        with self._lock:
            try:
                for start in range(0, len(keys), _PARAMETERS):
                    chunk = keys[start : start + _PARAMETERS]
                    marks = ",".join("?" * len(chunk))
                    rows += self._db.execute(f"SELECT key, vector, answer FROM entries WHERE key IN ({marks})", chunk).fetchall()
            except sqlite3.Error as error:
                raise self._error(error) from error
        return self._decode(rows, dim)

    def _decode(self, rows: list[tuple[str, object, object]], dim: int | None) -> dict[str, tuple[np.ndarray | None, str | None]]:
        lengths = Counter(len(blob) for _, blob, _ in rows if isinstance(blob, bytes) and blob and len(blob) % 4 == 0)
        if dim is not None:
            expected: set[int] = {dim * 4}
        else:
            top = max(lengths.values(), default=0)
            modes = {length for length, count in lengths.items() if count == top}
            expected = modes if len(modes) == 1 else set()  # a tie: no length can be trusted, recompute them all
        found: dict[str, tuple[np.ndarray | None, str | None]] = {}
        damaged = 0
        for key, blob, answer in rows:
            vector = np.frombuffer(blob, dtype=np.float32) if isinstance(blob, bytes) and len(blob) in expected else None
            bad_answer = answer is not None and not isinstance(answer, str)
            damaged += (blob is not None and vector is None) or bad_answer
            answer = None if bad_answer else answer
            if vector is not None or answer is not None:
                found[key] = (vector, answer)
        if damaged:
            logger.warning(
                "%d damaged row(s) in the embedding cache %s (wrong vector length or undecodable data); recomputing them",
                damaged, self.path,
            )
        return found

    def put(self, rows: Iterable[tuple[str, np.ndarray | None, str | None]]) -> None:
        """Store rows and commit; an answer or vector given as None keeps what was there."""
        values = [
            (key, None if vector is None else np.asarray(vector, dtype=np.float32).tobytes(), answer)
            for key, vector, answer in rows
        ]
        with self._lock:
            try:
                self._db.executemany(
                    "INSERT INTO entries (key, vector, answer) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET "
                    "vector = COALESCE(excluded.vector, vector), answer = COALESCE(excluded.answer, answer)",
                    values,
                )
                self._db.commit()
            except sqlite3.Error as error:
                with contextlib.suppress(sqlite3.Error):
                    self._db.rollback()
                raise self._error(error) from error

    def __len__(self) -> int:
        with self._lock:
            try:
                return self._db.execute("SELECT COUNT(*) FROM entries").fetchone()[0]
            except sqlite3.Error as error:
                raise self._error(error) from error

    def close(self) -> None:
        with self._lock:
            self._db.close()
