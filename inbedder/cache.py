"""On-disk cache of embeddings and answers, written as they are computed.

One SQLite file keyed by a hash of (everything that changes the result, text). Rows are
committed after every batch, so an interrupted run resumes where it stopped and re-running
with another k or another clustering setting is instant.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Iterable

import numpy as np


def settings_key(settings: dict) -> str:
    """A stable digest of the settings that determine an embedding."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()


class EmbeddingCache:
    """Embeddings (float32) and answers per (settings, text), in one SQLite file."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=60)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, vector BLOB, answer TEXT)"
        )

    @staticmethod
    def key(settings_digest: str, text: str) -> str:
        return hashlib.sha256(f"{settings_digest}\x00{text}".encode()).hexdigest()

    def get(self, keys: list[str]) -> dict[str, tuple[np.ndarray | None, str | None]]:
        """Cached (vector, answer) for the keys that have a row."""
        found: dict[str, tuple[np.ndarray | None, str | None]] = {}
        for start in range(0, len(keys), 900):  # SQLite's limit on bound parameters
            chunk = keys[start : start + 900]
            marks = ",".join("?" * len(chunk))
            for key, blob, answer in self._db.execute(
                f"SELECT key, vector, answer FROM entries WHERE key IN ({marks})", chunk
            ):
                vector = None if blob is None else np.frombuffer(blob, dtype=np.float32)
                found[key] = (vector, answer)
        return found

    def put(self, rows: Iterable[tuple[str, np.ndarray | None, str | None]]) -> None:
        """Store rows and commit; an answer or vector given as None keeps what was there."""
        self._db.executemany(
            "INSERT INTO entries (key, vector, answer) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET "
            "vector = COALESCE(excluded.vector, vector), answer = COALESCE(excluded.answer, answer)",
            [
                (key, None if vector is None else np.asarray(vector, dtype=np.float32).tobytes(), answer)
                for key, vector, answer in rows
            ],
        )
        self._db.commit()

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM entries").fetchone()[0]

    def close(self) -> None:
        self._db.close()
