"""Save and load a fitted clustering: centroids in safetensors, everything else in JSON, no pickle.

A folder holds ``centroids.safetensors`` (the k centroids and the corpus mean the texts were
centred on, float64) and ``clustering.json``:
the question, the embedder's settings, the fingerprint of what produces the embeddings, k,
seed, outlier threshold, keywords, names and the k-curve. Loading rebuilds the embedder from
the saved settings (or takes the one given) and refuses, in one line naming what differs,
when that embedder would embed differently: new texts could not be compared with centroids
made by another model, adapter, method, template or answer prefix.

The fingerprint is portable: model weights are identified by content (not path or file
time), so a clustering saved on one machine is accepted on another with the same weights.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from inbedder.errors import InBedderError

if TYPE_CHECKING:
    from inbedder.clustering import InstructionClusterer
    from inbedder.embedder import InBedder

FORMAT = "inbedder-clustering"
FORMAT_VERSION = 3  # 2: a standardised clustering keeps each dimension's scale; 3: the answer space's tokens
# ids and means (answer_space); older files still load
CENTROIDS_FILE = "centroids.safetensors"
CONFIG_FILE = "clustering.json"
WEIGHT_SUFFIXES = {".safetensors", ".bin", ".gguf", ".json", ".model", ".txt"}
WHOLE_FILE_LIMIT = 64 * 2**20  # hash files up to this size whole; larger ones by size, head and tail
EDGE_BYTES = 8 * 2**20


# --------------------------------------------------------------------------- fingerprints
def content_digest(path: str | Path) -> str:
    """A digest of a model or adapter folder's weight and config files, by content (names, sizes, bytes)."""
    folder = Path(path)
    digest = hashlib.sha256()
    files = [folder] if folder.is_file() else sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in WEIGHT_SUFFIXES)
    for file in files:
        size = file.stat().st_size
        digest.update(f"{file.relative_to(folder) if file != folder else file.name}:{size}|".encode())
        with file.open("rb") as handle:
            if size <= WHOLE_FILE_LIMIT:
                digest.update(handle.read())
            else:
                digest.update(handle.read(EDGE_BYTES))
                handle.seek(size - EDGE_BYTES)
                digest.update(handle.read(EDGE_BYTES))
    return digest.hexdigest()[:20]


def model_identity(model: InBedder) -> dict[str, str | None]:
    """What weights embed: the model by name (embedded, hub) or content (local folder), the adapter by content."""
    loaded = model.loaded
    base = loaded.fingerprint.split("+adapter:")[0]
    if not base.startswith(("embedded:", "hub:")):
        base = f"local:{content_digest(Path(loaded.name).expanduser())}"
    return {"model": base, "adapter": content_digest(loaded.adapter) if loaded.adapter else None}


def fingerprint(
    model: InBedder, method: str, instruction: str, answer_prefix: str, *, identity: dict[str, str | None] | None = None,
) -> dict[str, Any]:
    """Everything that determines an embedding besides the text (the cache key), with portable weights.

    ``identity``: :func:`model_identity` of ``model`` when already computed (it reads the weights).
    """
    settings = dict(model.settings(method, instruction, answer_prefix=answer_prefix))
    settings.update(identity or model_identity(model))
    return json.loads(json.dumps(settings))  # as it reads back from JSON (tuples -> lists)


def embedder_settings(model: InBedder, answer_prefix: str, *, embedded: bool) -> dict[str, Any]:
    """The :class:`~inbedder.InBedder` arguments that rebuild ``model`` with this answer prefix
    (``embedded``: it is the embedded model, which is rebuilt by default rather than by name)."""
    from inbedder.models import resolve_adapter

    loaded = model.loaded
    shipped = resolve_adapter(None, None)
    adapter = None if loaded.adapter and shipped and Path(loaded.adapter).resolve() == Path(shipped).resolve() else loaded.adapter
    if adapter is None and loaded.adapter is None and embedded:
        adapter = "none"  # the embedded model without its shipped adapter
    name = loaded.name
    if Path(name).expanduser().exists():
        name = str(Path(name).expanduser().resolve())
    return {
        "model": None if embedded else name,
        "adapter": str(Path(adapter).resolve()) if adapter not in (None, "none") else adapter,
        "template": model.template, "max_length": model.prompts.max_length, "max_new_tokens": model.max_new_tokens,
        "layer": model.layer, "filter_answer_words": model.filter_answer_words, "answer_prefix": answer_prefix,
        "samples": model.samples, "temperature": model.temperature,
        "sentence_encoder": model.sentence_encoder_name, "seed": model.seed,
    }


# --------------------------------------------------------------------------- saving
def _record(clusterer: InstructionClusterer) -> dict[str, Any]:
    from inbedder import __version__

    model, prefix = clusterer.model, clusterer.answer_prefix_
    if model is None or prefix is None:
        raise InBedderError("only a clustering fitted by its model can be saved (the model embeds new texts later); "
                            "fit with a model rather than embeddings=", parameter="model")
    identity = model_identity(model)  # reads the adapter's weights: once per save
    sizes = {int(c): int(n) for c, n in zip(*np.unique(clusterer.labels_, return_counts=True))} if hasattr(clusterer, "labels_") else {}
    names = clusterer.display_names() if hasattr(clusterer, "labels_") else dict(getattr(clusterer, "saved_names_", {}))
    info = clusterer.cluster_info() if hasattr(clusterer, "labels_") else None
    keywords = {int(r.cluster): list(r.keywords) for r in info.itertuples()} if info is not None else getattr(clusterer, "keywords_", {})
    return {
        # a clustering without the answer space stays version 2, which older InBedder versions read
        "format": FORMAT, "format_version": FORMAT_VERSION if clusterer.answer_space else 2, "inbedder_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "instruction": clusterer.instruction, "method": clusterer.method_, "answer_prefix": prefix,
        "embedder": embedder_settings(model, prefix, embedded=identity["model"].startswith("embedded:")),
        "fingerprint": fingerprint(model, clusterer.method_, clusterer.instruction, prefix, identity=identity),
        "n_clusters": int(clusterer.n_clusters_), "n_clusters_requested": clusterer.n_clusters,
        "random_state": clusterer.random_state, "n_init": clusterer.n_init, "center": clusterer.center,
        "standardize": clusterer.standardize,
        "answer_space": clusterer.answer_space, "state_weight": clusterer.state_weight,
        "silhouette_by_k": {str(k): v for k, v in (clusterer.silhouette_scores_ or {}).items()} or None,
        "min_similarity": clusterer.min_similarity, "outlier_threshold": clusterer.outlier_threshold_,
        "seed_answers": list(clusterer.seed_answers) if clusterer.seed_answers else None,
        "seed_matches": clusterer.seed_matches_,
        "texts": int(sum(sizes.values())) if sizes else getattr(clusterer, "fitted_texts_", None),
        "clusters": [{"cluster": c, "size": sizes.get(c), "name": names.get(c), "keywords": keywords.get(c, [])}
                     for c in sorted(set(sizes) | set(names))],
        "generated_names": {str(c): n for c, n in (getattr(clusterer, "generated_names_", None) or {}).items()} or None,
        "parent": getattr(clusterer, "parent_", None),
    }


def save_clustering(clusterer: InstructionClusterer, path: str | Path) -> Path:
    """Write ``clusterer`` to the folder ``path``; the folder is complete or left as it was.

    An existing clustering folder is replaced; a folder holding anything else is refused.
    """
    from safetensors.numpy import save_file

    folder = Path(path)
    check_save_target(folder)
    record = _record(clusterer)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.partial-", dir=folder.parent))
    try:
        tensors = {"cluster_centers": clusterer.cluster_centers_}
        if clusterer.mean_ is not None:
            tensors["mean"] = clusterer.mean_
        if clusterer.scale_ is not None:
            tensors["scale"] = clusterer.scale_
        space = getattr(clusterer, "answer_frame_", None)
        if space is not None:
            tensors.update(answer_token_ids=space.tokens, answer_mean=space.answer_mean, joined_mean=space.joined_mean)
        save_file({name: np.ascontiguousarray(value, dtype=np.float64) for name, value in tensors.items()},
                  str(staging / CENTROIDS_FILE), metadata={"format": FORMAT, "instruction": clusterer.instruction})
        (staging / CONFIG_FILE).write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
            os.replace(folder, old)
            os.replace(staging, folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def check_save_target(folder: Path) -> None:
    """Refuse, before any work, a target that is a file or a folder of something other than a clustering."""
    if folder.is_file():
        raise InBedderError(f"{folder} is a file; pass a folder to save the clustering in", parameter="path")
    if folder.is_dir() and any(folder.iterdir()) and not (folder / CONFIG_FILE).is_file():
        raise InBedderError(f"{folder} holds other files; pass a new or empty folder (or a saved clustering to "
                            "replace)", parameter="path")


# --------------------------------------------------------------------------- loading
def read_record(path: str | Path) -> dict[str, Any]:
    """The JSON of a saved clustering, refused in one line when the folder is not one."""
    folder = Path(path)
    config = folder / CONFIG_FILE
    if not folder.is_dir() or not config.is_file() or not (folder / CENTROIDS_FILE).is_file():
        raise InBedderError(f"{folder} is not a saved clustering (it needs {CONFIG_FILE} and {CENTROIDS_FILE}); "
                            "save one with InstructionClusterer.save(DIR) or `inbedder cluster … --save-clustering DIR`",
                            parameter="clustering")
    try:
        record = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InBedderError(f"{config} is not readable JSON ({error}); save the clustering again", parameter="clustering") from error
    if record.get("format") != FORMAT or record.get("format_version", 0) > FORMAT_VERSION:
        raise InBedderError(f"{config} is not a clustering this InBedder version reads (format "
                            f"{record.get('format')!r} v{record.get('format_version')}); upgrade inbedder", parameter="clustering")
    return record


def differences(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """The fingerprint fields that differ, as "field: saved -> here"."""
    keys = sorted(set(saved) | set(current))
    return [f"{key}: {saved.get(key)!r} -> {current.get(key)!r}" for key in keys if saved.get(key) != current.get(key)]


def build_embedder(record: dict[str, Any], **overrides: Any) -> InBedder:
    """The embedder the saved settings describe (device and cache may be overridden)."""
    from inbedder.options import ModelOptions

    settings = dict(record["embedder"])
    return ModelOptions(**settings, method=record["method"], **overrides).build()


ANSWER_TENSORS = ("answer_token_ids", "answer_mean", "joined_mean")


def _answer_frame(clusterer: InstructionClusterer, tensors: dict[str, np.ndarray]) -> Any:
    """The saved answer space on the loaded model's head (None for a clustering of the state alone)."""
    if not clusterer.answer_space:
        return None
    from inbedder.answer_space import AnswerFrame, check_answer_space
    from inbedder.vectors import CorpusFrame

    head = check_answer_space(clusterer.model, clusterer.method, clusterer.answer_space, clusterer.state_weight)
    return AnswerFrame(CorpusFrame(tensors["mean"], tensors["scale"]), tensors["answer_token_ids"].astype(np.int64),
                       tensors["answer_mean"], tensors["joined_mean"], clusterer.state_weight, head)


def load_clustering(cls: type, path: str | Path, *, model: InBedder | None = None, **embedder: Any) -> InstructionClusterer:
    """A clusterer with the saved centroids, threshold and names, and a model checked against the fingerprint."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    folder = Path(path)
    record = read_record(folder)
    try:
        tensors = load_file(str(folder / CENTROIDS_FILE))
        centres = tensors["cluster_centers"]
        needed = [("center", "mean"), ("standardize", "scale")]
        if record.get("answer_space"):  # the answer space centres and scales its state part itself
            needed = [("answer_space", name) for name in ("mean", "scale", *ANSWER_TENSORS)]
        for flag, tensor in needed:
            if record.get(flag) and tensor not in tensors:
                raise KeyError(tensor)
    except (SafetensorError, KeyError, OSError) as error:
        raise InBedderError(f"{folder / CENTROIDS_FILE} is damaged ({error}); save the clustering again",
                            parameter="clustering") from error
    if model is None:
        model = build_embedder(record, **embedder)
    model = model.with_answer_prefix(record["answer_prefix"])
    found = differences(record["fingerprint"], fingerprint(model, record["method"], record["instruction"], record["answer_prefix"]))
    if found:
        raise InBedderError(f"the clustering in {folder} was made with another embedder than this one "
                            f"({'; '.join(found)}); use the model and adapter it was saved with, or cluster again",
                            parameter="clustering")
    clusterer = cls(model, record["instruction"], n_clusters=record["n_clusters_requested"], method=record["method"],
                    random_state=record["random_state"], n_init=record["n_init"],
                    min_similarity=record["min_similarity"], seed_answers=record["seed_answers"],
                    center=record.get("center", False),  # saved before centring existed: not centred
                    standardize=record.get("standardize", False),  # saved before standardising existed
                    answer_space=record.get("answer_space"), state_weight=record.get("state_weight", 0.2))
    clusterer.cluster_centers_ = centres
    clusterer.mean_, clusterer.scale_ = tensors.get("mean"), tensors.get("scale")
    clusterer.answer_frame_ = _answer_frame(clusterer, tensors)
    clusterer.n_clusters_ = int(record["n_clusters"])
    clusterer.method_ = record["method"]
    clusterer.answer_prefix_ = record["answer_prefix"]
    clusterer.outlier_threshold_ = record["outlier_threshold"]
    clusterer.silhouette_scores_ = {int(k): v for k, v in record["silhouette_by_k"].items()} if record["silhouette_by_k"] else None
    clusterer.seed_matches_ = record["seed_matches"]
    clusterer.saved_names_ = {int(c["cluster"]): c["name"] for c in record["clusters"] if c.get("name")}
    clusterer.keywords_ = {int(c["cluster"]): list(c["keywords"]) for c in record["clusters"]}
    clusterer.fitted_texts_ = record["texts"]
    clusterer.parent_ = record.get("parent")
    return clusterer
