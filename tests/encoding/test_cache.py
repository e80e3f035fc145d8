"""The embedding cache: damaged files fail in one line, damaged rows are recomputed, threads share it.

Every test works on a real SQLite file, damaged the way disks, copies and editors damage them.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import threading
from pathlib import Path

import numpy as np
import pytest

from inbedder import InBedder, InBedderError
from inbedder.encoding.cache import EmbeddingCache
from inbedder.cli.main import FLAGS, main

DIM = 16


def _as_cli(error: InBedderError) -> str:
    """The message as the CLI prints it: the library's parameter names (``cache=False``) as flags (``--no-cache``)."""
    return error.renamed(FLAGS)


def _filled(path: Path, rows: int = 3000) -> Path:
    """A real cache file with ``rows`` vectors, closed (so the WAL is checkpointed into it)."""
    cache = EmbeddingCache(path)
    cache.put((f"k{i}", np.full(DIM, i, dtype=np.float32), f"answer {i}") for i in range(rows))
    cache.close()
    return path


def _random_bytes(path: Path) -> None:
    path.write_bytes(np.random.default_rng(0).bytes(8192))


def _text(path: Path) -> None:
    path.write_text("id,text\n1,this is a csv file, not a cache\n" * 50)


def _truncated(path: Path) -> None:
    _filled(path)
    with open(path, "r+b") as handle:
        handle.truncate(os.path.getsize(path) // 2)


def _sqlite_of_another_program(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE entries (name TEXT, size INTEGER)")
    db.commit()
    db.close()


@pytest.mark.parametrize("damage", [_random_bytes, _text, _truncated, _sqlite_of_another_program])
def test_a_damaged_cache_file_fails_at_opening_in_one_line(tmp_path, damage):
    path = tmp_path / "embeddings.sqlite"
    damage(path)
    with pytest.raises(InBedderError) as caught:
        EmbeddingCache(path)
    message = _as_cli(caught.value)
    assert str(path) in message and "--no-cache" in message and "delete" in message and "\n" not in message


def test_damage_found_only_on_a_later_read_is_still_one_line(tmp_path):
    path = _filled(tmp_path / "embeddings.sqlite")
    size = os.path.getsize(path)
    with open(path, "r+b") as handle:  # garbage over the middle pages: page 1 and the table's tail are intact
        handle.seek(size // 3)
        handle.write(np.random.default_rng(1).bytes(size // 3))
    cache = EmbeddingCache(path)
    with pytest.raises(InBedderError) as caught:
        cache.get([f"k{i}" for i in range(3000)])
    assert re.search(r"embeddings\.sqlite is damaged or not an SQLite file .*--no-cache", _as_cli(caught.value))


def test_the_cli_names_the_damaged_cache_and_no_cache_gets_past_it(tmp_path, capsys):
    cache_file = Path(os.environ["INBEDDER_CACHE"]) / "embeddings.sqlite"  # the private cache of this test
    _random_bytes(cache_file)
    texts = tmp_path / "t.txt"
    texts.write_text("The soup was cold.\nLovely staff.\n")
    assert main(["embed", str(texts), "-i", "What is it about?", "-o", str(tmp_path / "out.npy"), "--quiet"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and str(cache_file) in lines[0] and "--no-cache" in lines[0], lines
    assert main(["embed", str(texts), "-i", "What is it about?", "-o", str(tmp_path / "out.npy"), "--quiet", "--no-cache"]) == 0
    assert np.load(tmp_path / "out.npy").shape[0] == 2


def test_a_cache_path_that_cannot_be_a_file_is_one_line(tmp_path):
    regular = tmp_path / "file.txt"
    regular.write_text("x")
    with pytest.raises(InBedderError) as caught:
        EmbeddingCache(regular / "cache" / "embeddings.sqlite")
    assert re.search("cannot create the folder of the embedding cache .*--no-cache", _as_cli(caught.value))
    with pytest.raises(InBedderError, match="is a folder, not a file"):
        EmbeddingCache(tmp_path)


# --------------------------------------------------------------------------- damaged rows
def _rows(path: Path, n: int = 6) -> list[str]:
    cache = EmbeddingCache(path)
    keys = [f"k{i}" for i in range(n)]
    cache.put((key, np.arange(DIM, dtype=np.float32) + i, f"answer {i}") for i, key in enumerate(keys))
    cache.close()
    return keys


def _set_vector(path: Path, key: str, blob: object) -> None:
    db = sqlite3.connect(path)
    db.execute("UPDATE entries SET vector = ? WHERE key = ?", (blob, key))
    db.commit()
    db.close()


@pytest.mark.parametrize("blob", [b"\x00" * 7, b"\x00" * (4 * (DIM + 1)), b"", "text, not bytes", 3.5],
                         ids=["not-whole-floats", "other-dimension", "empty", "text", "number"])
def test_a_damaged_row_is_returned_as_missing_with_one_warning(tmp_path, caplog, blob):
    path = tmp_path / "embeddings.sqlite"
    keys = _rows(path)
    _set_vector(path, keys[2], blob)
    cache = EmbeddingCache(path)
    with caplog.at_level(logging.WARNING, logger="inbedder.encoding.cache"):
        found = cache.get(keys)
    vector, answer = found[keys[2]]
    assert vector is None and answer == "answer 2"  # the vector is recomputed, the answer kept
    assert all(found[key][0].shape == (DIM,) for key in keys if key != keys[2])
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "1 damaged row" in warnings[0].getMessage() and "\n" not in warnings[0].getMessage()


def test_an_expected_dimension_rejects_every_row_of_another_length(tmp_path, caplog):
    path = tmp_path / "embeddings.sqlite"
    keys = _rows(path, 3)
    cache = EmbeddingCache(path)
    with caplog.at_level(logging.WARNING, logger="inbedder.encoding.cache"):
        assert all(found[0] is not None for found in cache.get(keys, dim=DIM).values())
        assert all(found[0] is None for found in cache.get(keys, dim=DIM * 2).values())
    assert "3 damaged row" in caplog.records[-1].getMessage()


def test_an_undecodable_answer_is_dropped_and_the_vector_kept(tmp_path):
    path = tmp_path / "embeddings.sqlite"
    keys = _rows(path, 2)
    db = sqlite3.connect(path)
    db.execute("UPDATE entries SET answer = ? WHERE key = ?", (b"\xff\xfe", keys[0]))
    db.commit()
    db.close()
    vector, answer = EmbeddingCache(path).get(keys)[keys[0]]
    assert answer is None and vector is not None


def test_the_embedder_recomputes_a_damaged_row_and_loses_nothing(tiny_models, tmp_path, caplog):
    path = tmp_path / "embeddings.sqlite"
    texts = ["The soup was cold.", "Lovely staff and quick service!", "Too loud to talk.", "Cheap and cheerful."]
    model = InBedder(tiny_models["llama"], cache=path, device="cpu")
    before = model.encode(texts, "What is the review about?", normalize_embeddings=False)
    model.cache.close()
    db = sqlite3.connect(path)
    keys = [key for (key,) in db.execute("SELECT key FROM entries WHERE vector IS NOT NULL ORDER BY key")]
    db.close()
    _set_vector(path, keys[0], b"\x01\x02\x03")  # a torn write
    _set_vector(path, keys[1], np.ones(7, dtype=np.float32).tobytes())  # a row of another length
    again = InBedder(tiny_models["llama"], cache=path, device="cpu")
    with caplog.at_level(logging.WARNING, logger="inbedder.encoding.cache"):
        after = again.encode(texts, "What is the review about?", normalize_embeddings=False)
    np.testing.assert_allclose(after, before, atol=1e-5)
    assert any("2 damaged row(s)" in r.getMessage() for r in caplog.records)
    assert all(v[0] is not None and v[0].shape == (before.shape[1],) for v in again.cache.get(keys).values())


# --------------------------------------------------------------------------- threads
def test_one_cache_is_safe_to_share_across_threads(tmp_path):
    cache = EmbeddingCache(tmp_path / "embeddings.sqlite")
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for batch in range(20):
                keys = [f"w{worker}-{batch}-{i}" for i in range(10)]
                cache.put((key, np.full(DIM, worker, dtype=np.float32), key) for key in keys)
                found = cache.get(keys)
                assert len(found) == 10 and all(v[0][0] == worker for v in found.values())
                len(cache)
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[0]
    assert len(cache) == 6 * 20 * 10
