"""Saved clusterings in the page: a .zip to download, a .zip or folder to load, what to show of one.

A saved clustering is the folder :meth:`InstructionClusterer.save` writes (``clustering.json``
and ``centroids.safetensors``, no pickle). The page hands it out as a .zip of that folder and
takes one back by upload, reading only those two files (at most 64 entries), each unpacked a
chunk at a time up to its size limit whatever its header claims, so an upload cannot write
anywhere else, fill the disk or the memory; what it holds is then checked by
:mod:`inbedder.clustering.record_schema` before any model loads. No Streamlit here.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from inbedder.errors import InBedderError, one_line
from inbedder.clustering.persistence import CENTROIDS_FILE, CONFIG_FILE

if TYPE_CHECKING:
    from inbedder.clustering.estimator import InstructionClusterer

MEMBERS = (CONFIG_FILE, CENTROIDS_FILE)
MAX_MEMBER_MB = 64  # centroids of 200 clusters of 4,096 floats are 6.5 MB; the JSON is kilobytes
MAX_ENTRIES = 64  # a saved clustering's .zip holds a folder and two files
CHUNK = 1 << 16  # bytes unpacked at a time


def zip_bytes(clusterer: InstructionClusterer, folder_name: str = "clustering") -> bytes:
    """The clustering saved to a temporary folder and zipped as ``<folder_name>/clustering.json`` + centroids."""
    with tempfile.TemporaryDirectory(prefix="inbedder-save-") as temporary:
        folder = clusterer.save(Path(temporary) / folder_name)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for member in MEMBERS:
                archive.write(folder / member, f"{folder_name}/{member}")
    return buffer.getvalue()


def _members(archive: zipfile.ZipFile, name: str) -> dict[str, zipfile.ZipInfo]:
    """The archive's clustering.json and centroids (at its top or in one folder), refused in one line otherwise."""
    entries = archive.infolist()
    if len(entries) > MAX_ENTRIES:
        raise InBedderError(f"{name} holds {len(entries):,} entries; a saved clustering's .zip holds 2 files")
    found: dict[str, zipfile.ZipInfo] = {}
    for info in entries:
        member = PurePosixPath(info.filename).name
        if member in MEMBERS and not info.is_dir():
            if member in found:
                raise InBedderError(f"{name} holds more than one {member}; zip one saved clustering folder")
            found[member] = info
    missing = [member for member in MEMBERS if member not in found]
    if missing:
        raise InBedderError(f"{name} is not a saved clustering: it has no {' or '.join(missing)}; "
                            "upload the .zip this page's “Save clustering” makes")
    for member, info in found.items():
        if info.file_size > MAX_MEMBER_MB * 2**20:
            raise InBedderError(f"{member} in {name} is {info.file_size / 2**20:.0f} MB; a saved clustering's is "
                                f"under {MAX_MEMBER_MB} MB")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) or info.flag_bits & 0x1:
            raise InBedderError(f"{member} in {name} is encrypted or compressed in a way a saved clustering's is not; "
                                "upload the .zip this page's “Save clustering” makes")
    return found


def _unpack(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, name: str) -> None:
    """Copy one entry to ``target`` a chunk at a time, stopping at the size limit whatever its header says.

    Why: the header's size is the archive's claim; a crafted entry that inflates far beyond it
    would otherwise be decompressed whole in memory before its CRC check fails.
    """
    limit, written = int(MAX_MEMBER_MB * 2**20), 0
    member = PurePosixPath(info.filename).name
    try:
        with archive.open(info) as source, target.open("wb") as sink:
            while chunk := source.read(CHUNK):
                written += len(chunk)
                if written > limit:
                    raise InBedderError(f"{member} in {name} unpacks to more than {MAX_MEMBER_MB} MB; a saved "
                                        f"clustering's is under {MAX_MEMBER_MB} MB")
                sink.write(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError, ValueError) as error:
        raise InBedderError(f"{member} in {name} is damaged ({one_line(error, limit=120)}); upload the .zip this "
                            "page's “Save clustering” makes") from error


@contextmanager
def unzipped(name: str, data: bytes) -> Iterator[Path]:
    """A temporary folder holding the two files of the uploaded .zip, removed afterwards."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError) as error:
        raise InBedderError(f"{name} is not a .zip file; upload the .zip this page's “Save clustering” makes") from error
    with archive, tempfile.TemporaryDirectory(prefix="inbedder-load-") as temporary:
        folder = Path(temporary) / "clustering"
        folder.mkdir()
        for member, info in _members(archive, name).items():
            _unpack(archive, info, folder / member, name)
        yield folder


def embedder_choice(record: dict[str, Any]) -> tuple[str | None, str | None]:
    """(model, adapter) as the page's model picker names them, for the model this clustering was saved with."""
    from inbedder.models.catalogue import EMBEDDED_MODEL

    embedder = record.get("embedder") or {}
    # null: saved while the embedded SmolLM2 was the default (see inbedder.clustering.persistence.build_embedder)
    return embedder.get("model") or EMBEDDED_MODEL, embedder.get("adapter") or None


def describe(record: dict[str, Any]) -> str:
    """One line about a saved clustering: its question, k, texts, outlier threshold and parent, for the page."""
    parts = [f"“{record.get('instruction', '?')}”", f"{record.get('n_clusters', '?')} clusters"]
    if record.get("texts"):
        parts.append(f"fitted on {record['texts']:,} texts")
    if record.get("outlier_threshold") is not None:
        parts.append(f"“other” below similarity {record['outlier_threshold']:.3f}")
    parent = record.get("parent")
    if parent:
        parts.append(f"within cluster {parent.get('cluster')} ({parent.get('name')}) of “{parent.get('instruction')}”")
    if record.get("created"):
        parts.append(f"saved {record['created']}")
    return " · ".join(parts)
