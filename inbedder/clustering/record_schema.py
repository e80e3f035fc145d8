"""What a saved clustering may contain: every field of ``clustering.json`` and every tensor, checked.

Why: a saved clustering travels (a colleague's folder, a .zip uploaded to a public explorer) and
its JSON chooses the model's options, its tensors the geometry every text is sorted by. Nothing
in it is used before it passes here: a field that is unknown, of the wrong type, out of range or
not finite, and tensors of the wrong shape or with NaN/inf, are refused in one line naming the
field (``…/clustering.json: embedder.cache is not a known field; …``). The checks run before
any model loads, so a bad file costs nothing.

The schema is a table per object: field -> (required, check). A check takes the value and the
field's dotted name and raises :class:`~inbedder.errors.InBedderError`. Fields that older format
versions (1–3) lack are optional; nothing else is.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from inbedder.errors import InBedderError
from inbedder.encoding.methods import METHODS
from inbedder.validation import MAX_SEED

MAX_CLUSTERS = 10_000  # k; the page builds a table row per cluster
MAX_DIM = 1 << 17  # floats per centroid (the largest models' states are 8k–16k wide)
MAX_TEXT = 100_000  # characters of one string (a question, a template, a name)
MAX_ITEMS = 100_000  # entries of a list or object (keywords, seed answers, the k-curve)
MAX_TEXTS = 2**53  # texts a clustering was fitted on (exact in a float)
MAX_DEPTH = 64  # drill-down levels above a clustering
MAX_MAGNITUDE = 1e6  # centroids, means and spreads of unit rows lie within ±1; far beyond, distances overflow
MIN_SCALE = 1e-15  # a spread below this would scale a value past the float range
ADVICE = "the file was edited or is not a clustering InBedder saved; save the clustering again"

Check = Callable[[Any, str], None]


class RecordError(InBedderError):
    """A field of a saved clustering that is not what InBedder writes; ``source`` is added by the reader."""


def _fail(where: str, problem: str) -> None:
    raise RecordError(f"{where or 'the record'} {problem}")


# --------------------------------------------------------------------------- checks
def text(*, empty: bool = True) -> Check:
    def check(value: Any, where: str) -> None:
        if not isinstance(value, str):
            _fail(where, f"is {_kind(value)}, not a string")
        if not value.isascii() and not _encodable(value):
            _fail(where, "holds characters that are not valid text (lone surrogates)")
        if len(value) > MAX_TEXT or (not empty and not value.strip()):
            _fail(where, "is empty" if len(value) <= MAX_TEXT else f"is longer than {MAX_TEXT:,} characters")
    return check


def integer(low: int, high: int) -> Check:
    def check(value: Any, where: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            _fail(where, f"is {_kind(value)}, not an integer")
        if not low <= value <= high:
            _fail(where, f"is {value}, outside {low}..{high}")
    return check


def number(low: float, high: float, *, above: bool = False) -> Check:
    """A finite number in low..high (``above``: strictly above low)."""
    def check(value: Any, where: str) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            _fail(where, f"is {_kind(value)}, not a number")
        if not math.isfinite(value):
            _fail(where, f"is {value}, not a finite number")
        if value < low or value > high or (above and value == low):
            _fail(where, f"is {value}, outside {'(' if above else '['}{low:g}, {high:g}]")
    return check


def boolean(value: Any, where: str) -> None:
    if not isinstance(value, bool):
        _fail(where, f"is {_kind(value)}, not true or false")


def either(word: str, check: Check) -> Check:
    """The word itself (e.g. "auto") or a value ``check`` accepts."""
    def check_either(value: Any, where: str) -> None:
        if value != word or not isinstance(value, str):
            check(value, where)
    return check_either


def nullable(check: Check) -> Check:
    def check_nullable(value: Any, where: str) -> None:
        if value is not None:
            check(value, where)
    return check_nullable


def one_of(*choices: str) -> Check:
    def check(value: Any, where: str) -> None:
        if value not in choices or not isinstance(value, str):
            _fail(where, f"is {_shown(value)}, not one of {', '.join(choices)}")
    return check


def list_of(item: Check, limit: int = MAX_ITEMS) -> Check:
    def check(value: Any, where: str) -> None:
        if not isinstance(value, list):
            _fail(where, f"is {_kind(value)}, not a list")
        if len(value) > limit:
            _fail(where, f"has {len(value):,} entries, more than {limit:,}")
        for index, entry in enumerate(value):
            item(entry, f"{where}[{index}]")
    return check


def mapping(key: Check, value_check: Check, limit: int = MAX_ITEMS) -> Check:
    """A JSON object whose keys (strings) and values pass their checks."""
    def check(value: Any, where: str) -> None:
        if not isinstance(value, dict):
            _fail(where, f"is {_kind(value)}, not an object")
        if len(value) > limit:
            _fail(where, f"has {len(value):,} entries, more than {limit:,}")
        for name, entry in value.items():
            key(name, f"{where} key {_shown(name)}")
            value_check(entry, f"{where}.{field_name(name)}")
    return check


def integer_key(low: int, high: int) -> Check:
    """A JSON object key that holds an integer ("3")."""
    def check(value: Any, where: str) -> None:
        if not isinstance(value, str) or not re.fullmatch(r"-?[0-9]{1,12}", value):
            _fail(where, "is not an integer")
        integer(low, high)(int(value), where)
    return check


def scalar(value: Any, where: str) -> None:
    """A JSON string, finite number, true/false or null (or a flat list of them)."""
    if isinstance(value, list) and len(value) <= MAX_ITEMS:
        for index, entry in enumerate(value):
            if isinstance(entry, (list, dict)):
                _fail(f"{where}[{index}]", f"is {_kind(entry)}, not a plain value")
            scalar(entry, f"{where}[{index}]")
    elif isinstance(value, float) and not math.isfinite(value):
        _fail(where, f"is {value}, not a finite number")
    elif isinstance(value, str):
        text()(value, where)
    elif value is not None and not isinstance(value, (bool, int, float)):
        _fail(where, f"is {_kind(value)}, not a plain value")


def table(fields: Mapping[str, tuple[bool, Check]]) -> Check:
    """A JSON object with exactly these fields: (required, check); unknown ones are refused."""
    def check(value: Any, where: str) -> None:
        if not isinstance(value, dict):
            _fail(where, f"is {_kind(value)}, not an object")
        for name in value:
            if name not in fields:
                _fail(f"{where}.{field_name(name)}".lstrip("."), "is not a known field")
        for name, (required, field_check) in fields.items():
            if name in value:
                field_check(value[name], f"{where}.{name}".lstrip("."))
            elif required:
                _fail(f"{where}.{name}".lstrip("."), "is missing")
    return check


def field_name(name: str) -> str:
    """A key as a message may show it: as is when it is a plain word, else quoted and cut (no line breaks)."""
    return name if re.fullmatch(r"[\w-]{1,40}", name, flags=re.ASCII) else _shown(name)


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "true/false", type(None): "null"}
    return names.get(type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__)


def _shown(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 40 else shown[:39] + "…"


# --------------------------------------------------------------------------- the record

EMBEDDER: dict[str, tuple[bool, Check]] = {  # the InBedder(...) arguments that rebuild the model
    "model": (True, nullable(text(empty=False))),  # a catalogue name, hub id or folder; null (older files): smollm2-135m
    "adapter": (True, nullable(text(empty=False))),
    "template": (True, text(empty=False)),
    "max_length": (True, integer(16, 1 << 20)),
    "max_new_tokens": (True, nullable(integer(1, 1 << 16))),
    "layer": (True, nullable(integer(-4096, 4096))),
    "filter_answer_words": (True, boolean),
    "answer_prefix": (True, text()),
    "samples": (True, integer(1, 1000)),
    "temperature": (True, number(0, 100, above=True)),
    "sentence_encoder": (True, nullable(text(empty=False))),
    "seed": (True, integer(0, MAX_SEED)),
    "dtype": (False, one_of("auto", "fp32", "bf16")),  # the number format, where a saved one names it
}


def hex_digest(value: Any, where: str) -> None:
    text()(value, where)
    if len(value) != 64 or any(ch not in "0123456789abcdef" for ch in value):
        _fail(where, "is not a sha256 hex digest")


def parent(value: Any, where: str, depth: int = 0) -> None:
    """Where a drilled-down clustering came from (its ancestors nested in ``parent``)."""
    if depth > MAX_DEPTH:
        _fail(where, f"nests more than {MAX_DEPTH} levels")
    table({
        "clustering": (True, nullable(text(empty=False))), "cluster": (True, integer(-1, MAX_CLUSTERS)),
        "name": (False, nullable(text())), "instruction": (True, text()), "texts": (False, nullable(integer(0, MAX_TEXTS))),
        "centroids_sha256": (False, nullable(hex_digest)),
        "parent": (False, nullable(lambda inner, at: parent(inner, at, depth + 1))),
    })(value, where)


CLUSTER: dict[str, tuple[bool, Check]] = {
    "cluster": (True, integer(-1, MAX_CLUSTERS)), "size": (False, nullable(integer(0, MAX_TEXTS))),
    "name": (False, nullable(text())), "keywords": (True, list_of(text())),
}

RECORD: dict[str, tuple[bool, Check]] = {
    "format": (True, text()),  # FORMAT and a version this InBedder reads: checked first, by check_record
    "format_version": (True, integer(1, 1 << 30)),
    "inbedder_version": (False, text()),
    "created": (False, nullable(text())),
    "instruction": (True, text(empty=False)),
    "method": (True, one_of(*METHODS)),
    "answer_prefix": (True, text()),
    "embedder": (True, table(EMBEDDER)),
    "fingerprint": (True, mapping(text(empty=False), scalar, limit=64)),  # only compared with this machine's
    "n_clusters": (True, integer(1, MAX_CLUSTERS)),
    "n_clusters_requested": (True, nullable(either("auto", integer(1, MAX_CLUSTERS)))),
    "random_state": (True, nullable(integer(0, MAX_SEED))),
    "n_init": (True, either("auto", integer(1, 10_000))),
    "center": (False, boolean),  # format 2 on
    "standardize": (False, boolean),
    "answer_space": (False, nullable(integer(2, MAX_DIM))),  # format 3
    "state_weight": (False, number(0, 1)),
    "silhouette_by_k": (True, nullable(mapping(integer_key(2, MAX_CLUSTERS), number(-1, 1), limit=MAX_CLUSTERS))),
    "min_similarity": (True, nullable(either("auto", number(-1, 1)))),
    "outlier_threshold": (True, nullable(number(-1, 1))),
    "seed_answers": (True, nullable(list_of(text(empty=False), MAX_CLUSTERS))),
    "seed_matches": (True, nullable(mapping(text(), integer(0, MAX_TEXTS), limit=MAX_CLUSTERS))),
    "texts": (True, nullable(integer(0, MAX_TEXTS))),
    "clusters": (True, list_of(table(CLUSTER), MAX_CLUSTERS + 1)),
    "generated_names": (False, nullable(mapping(integer_key(-1, MAX_CLUSTERS), text(), limit=MAX_CLUSTERS + 1))),
    "descriptions": (False, nullable(mapping(integer_key(0, MAX_CLUSTERS), text(), limit=MAX_CLUSTERS))),
    "parent": (False, nullable(parent)),
    "multi": (False, nullable(integer(2, 8))),  # several answers per text (inbedder.encoding.multi.MAX_ANSWERS)
    "multi_lister": (False, nullable(text(empty=False))),  # the model that listed them
    "centroids_sha256": (False, hex_digest),  # written since the two files are replaced one after the other
}


def check_record(record: Any, *, newest: int) -> dict[str, Any]:
    """``record`` when every field is one InBedder writes, within range; else one line naming the field.

    ``newest``: the latest format version this InBedder writes (older ones, from 1, are read too).
    """
    if not isinstance(record, dict):
        _fail("", f"is {_kind(record)}, not an object")
    version = record.get("format_version")
    if isinstance(version, int) and not isinstance(version, bool) and version > newest:
        raise InBedderError(f"format_version is {version}, newer than this InBedder reads ({newest}); upgrade inbedder")
    table(RECORD)(record, "")
    cluster_numbers = [entry["cluster"] for entry in record["clusters"]]
    if len(set(cluster_numbers)) != len(cluster_numbers):
        _fail("clusters", "lists a cluster twice")
    if any(cluster >= record["n_clusters"] for cluster in cluster_numbers):
        _fail("clusters", f"names a cluster beyond n_clusters = {record['n_clusters']}")
    return record


# --------------------------------------------------------------------------- the tensors
TENSORS = ("cluster_centers", "mean", "scale", "answer_token_ids", "answer_mean", "joined_mean")


def check_tensors(record: Mapping[str, Any], tensors: Mapping[str, np.ndarray]) -> None:
    """The centroids and the frame they live in: known names, shapes that fit together, finite values."""
    for name, value in tensors.items():
        if name not in TENSORS:
            _fail(name, "is not a known tensor")
        if value.dtype.kind not in "fiu" or value.size > MAX_CLUSTERS * MAX_DIM:
            _fail(name, f"is a {value.dtype} tensor of {value.size:,} values, not a numeric one InBedder writes")
        if not np.isfinite(value).all():
            _fail(name, "holds NaN or infinite values")
        if name != "answer_token_ids" and value.size and np.abs(value).max() > MAX_MAGNITUDE:
            _fail(name, f"holds values beyond ±{MAX_MAGNITUDE:g} (a clustering of unit rows holds values near ±1)")
    centres = tensors["cluster_centers"]
    if centres.ndim != 2 or not 1 <= centres.shape[1] <= MAX_DIM:
        _fail("cluster_centers", f"has shape {centres.shape}, not (clusters, dimensions)")
    if centres.shape[0] != record["n_clusters"]:
        _fail("n_clusters", f"is {record['n_clusters']} but there are {centres.shape[0]} centroids")
    width, space = centres.shape[1], record.get("answer_space") or 0
    state = width - space  # the answer space's centroids are the state's dimensions, then one per answer token
    if state < 1:
        _fail("answer_space", f"is {space}, not below the centroids' {width} dimensions")
    expected = {"mean": state, "scale": state, "answer_token_ids": space, "answer_mean": space, "joined_mean": width}
    for name, size in expected.items():
        if name in tensors and tensors[name].shape != (size,):
            _fail(name, f"has shape {tensors[name].shape}, not ({size},) to match the centroids")
    if "scale" in tensors and (tensors["scale"] < MIN_SCALE).any():
        _fail("scale", f"holds a value below {MIN_SCALE:g} (each dimension's spread; scikit-learn's floor is ~2e-15)")
    tokens = tensors.get("answer_token_ids")
    if tokens is not None and ((tokens < 0).any() or (tokens >= 2**31).any() or (tokens != np.round(tokens)).any()):
        _fail("answer_token_ids", "holds values that are not token ids")
