"""The files a run writes: planned and checked before any work, moved into place together.

A run's outputs belong together (a table, its ``.run.json``, the embeddings and their ids),
so they are written beside their targets under temporary names and renamed into place only
once every one of them is complete. A failed or interrupted run therefore leaves the files of
the previous run intact, never half a file and never a ``.npy`` without its table. No output
may be an input of the run: the user's data is never written over.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from inbedder.errors import InBedderError
from inbedder.io import EMBEDDING_SUFFIXES, TABLE_SUFFIXES, check_writable


@dataclass(frozen=True)
class Output:
    """One file the run will write, and the option that named it (for the error message)."""

    path: Path
    flag: str

    @property
    def files(self) -> tuple[Path, ...]:
        """Every file this output occupies: a ``.npy`` brings its ``.ids.txt`` along."""
        if self.path.suffix.lower() == ".npy":
            return (self.path, ids_path(self.path))
        return (self.path,)


def ids_path(npy: Path) -> Path:
    """Where the ids of ``e.npy`` go: ``e.ids.txt`` beside it."""
    return npy.with_name(f"{npy.stem}.ids.txt")


def sidecar_path(table: Path) -> Path:
    """Where a table's run parameters go: ``out.csv`` -> ``out.csv.run.json``."""
    return table.with_name(table.name + ".run.json")


def table_output(value: str | Path, flag: str) -> Output:
    """A per-text table option, its suffix checked."""
    return _output(value, flag, TABLE_SUFFIXES)


def embeddings_output(value: str | Path, flag: str) -> Output:
    """An embeddings option, its suffix checked."""
    return _output(value, flag, EMBEDDING_SUFFIXES)


def _output(value: str | Path, flag: str, allowed: tuple[str, ...]) -> Output:
    text = str(value)
    if text.endswith(("/", os.sep)) or Path(text).is_dir():
        raise InBedderError(f"{flag} {text!r} is a folder; name a file in it, e.g. {Path(text) / ('out' + allowed[0])}")
    path = Path(text)
    if path.suffix.lower() not in allowed:
        raise InBedderError(f"{flag} {text!r} has an unsupported suffix; use one of: {', '.join(allowed)}")
    return Output(path, flag)


def check_outputs(outputs: Iterable[Output], inputs: Iterable[str | Path]) -> None:
    """Refuse, before any work, outputs that would overwrite an input or cannot be written."""
    inputs = [Path(path) for path in inputs]
    for output in outputs:
        for path in output.files:
            for source in inputs:
                if _same_file(path, source):
                    raise InBedderError(
                        f"{output.flag} {str(output.path)!r} would overwrite the input {source}; "
                        "choose another output path"
                    )
            check_writable(path)


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file (through links and relative parts)."""
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


class StagedFiles:
    """Temporary names beside the targets; :meth:`commit` renames them all into place."""

    def __init__(self) -> None:
        self._moves: list[tuple[Path, Path]] = []

    def path(self, final: str | Path) -> Path:
        """A temporary path in ``final``'s folder, with its suffix, to write ``final`` to."""
        final = Path(final)
        temp = final.with_name(f".{final.stem}.partial-{os.getpid()}-{len(self._moves)}{final.suffix}")
        self._moves.append((temp, final))
        if final.suffix.lower() == ".npy":
            self._moves.append((ids_path(temp), ids_path(final)))
        return temp

    def commit(self) -> None:
        for temp, final in self._moves:
            if temp.exists():
                os.replace(temp, final)
        self._moves.clear()

    def discard(self) -> None:
        for temp, _ in self._moves:
            temp.unlink(missing_ok=True)
        self._moves.clear()


@contextmanager
def staged_files() -> Iterator[StagedFiles]:
    """Write through :meth:`StagedFiles.path`; on success every file lands, on failure none."""
    staged = StagedFiles()
    try:
        yield staged
    except BaseException:
        staged.discard()
        raise
    try:
        staged.commit()
    except OSError as e:
        staged.discard()
        raise InBedderError(f"cannot move the results into place: {e.strerror or e}; choose a writable output folder") from e
