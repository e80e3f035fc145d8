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

import glob
import hashlib
import json
import os
import shutil
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from inbedder.errors import InBedderError, one_line
from inbedder.clustering.record_schema import ADVICE, RecordError, check_record, check_tensors, field_name
from inbedder.encoding.building import embedder_from_settings
from inbedder.models.settings import EmbedderSettings
from inbedder.version import __version__

if TYPE_CHECKING:
    import pandas as pd

    from inbedder.encoding.embedder import InBedder


class Clustering(Protocol):
    """What a saved clustering is made of: the estimator's settings and its fitted ``_`` state.

    :class:`~inbedder.clustering.estimator.InstructionClusterer` is one; naming the attributes
    here, rather than importing the estimator, keeps this module below it (the estimator saves
    and loads through this module). ``labels_``, ``saved_names_``, ``keywords_``,
    ``fitted_texts_``, ``generated_names_``, ``parent_`` and ``answer_frame_`` may be absent.
    """

    model: InBedder
    instruction: str
    method: str | None
    n_clusters: int | str | None
    random_state: int
    n_init: int | str
    center: bool
    standardize: bool
    answer_space: int | None
    state_weight: float
    min_similarity: Any
    seed_answers: Any
    method_: str
    answer_prefix_: str
    n_clusters_: int
    cluster_centers_: np.ndarray
    mean_: np.ndarray | None
    scale_: np.ndarray | None
    outlier_threshold_: float | None
    silhouette_scores_: dict[int, float] | None
    seed_matches_: Any

    def display_names(self) -> dict[int, str]: ...

    def display_descriptions(self) -> dict[int, str]: ...

    def cluster_info(self) -> pd.DataFrame: ...


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
    if not base.startswith(("embedded:", "hub:", "catalogue:")):
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
    from inbedder.models.loading import resolve_adapter

    from inbedder.models.catalogue import EMBEDDED_MODEL

    loaded = model.loaded
    shipped = resolve_adapter(loaded.name, None)  # a catalogue model's own adapter, if any
    adapter = None if loaded.adapter and shipped and Path(loaded.adapter).resolve() == Path(shipped).resolve() else loaded.adapter
    if adapter is None and loaded.adapter is None and shipped:
        adapter = "none"  # a catalogue model without its shipped adapter
    name = loaded.name
    if Path(name).expanduser().exists():
        name = str(Path(name).expanduser().resolve())
    return {
        "model": EMBEDDED_MODEL if embedded else name,  # by name: the default model may change
        "adapter": str(Path(adapter).resolve()) if adapter not in (None, "none") else adapter,
        "template": model.template, "max_length": model.prompts.max_length, "max_new_tokens": model.max_new_tokens,
        "layer": model.layer, "filter_answer_words": model.filter_answer_words, "answer_prefix": answer_prefix,
        "samples": model.samples, "temperature": model.temperature,
        "sentence_encoder": model.sentence_encoder_name, "seed": model.seed,
        "dtype": getattr(model, "dtype", "fp32"),  # the resolved format: rebuilt the same on any machine
    }


# --------------------------------------------------------------------------- saving
def _record(clusterer: Clustering) -> dict[str, Any]:
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
        "descriptions": {str(c): d for c, d in clusterer.display_descriptions().items()} or None,
        "parent": getattr(clusterer, "parent_", None),
        "multi": getattr(clusterer, "multi_", None),  # answers per text listed (inbedder.clustering.multi), else None
        "multi_lister": getattr(clusterer, "lister_", None),  # the model that listed them
    }


def save_clustering(clusterer: Clustering, path: str | Path) -> Path:
    """Write ``clusterer`` to the folder ``path``: its two files, replaced atomically; the rest is kept.

    Only ``clustering.json`` and ``centroids.safetensors`` are written (see :func:`_replace_pair`
    for why a reader never uses a mismatched pair); other files in the folder stay. A folder
    holding other files but no clustering is refused, as is a file's child or the current folder.
    """
    from safetensors.numpy import save

    folder = Path(path)
    check_save_target(folder)
    record = _record(clusterer)
    tensors = {"cluster_centers": clusterer.cluster_centers_}
    if clusterer.mean_ is not None:
        tensors["mean"] = clusterer.mean_
    if clusterer.scale_ is not None:
        tensors["scale"] = clusterer.scale_
    space = getattr(clusterer, "answer_frame_", None)
    if space is not None:
        tensors.update(answer_token_ids=space.tokens, answer_mean=space.answer_mean, joined_mean=space.joined_mean)
    centroids = save({name: np.ascontiguousarray(value, dtype=np.float64) for name, value in tensors.items()},
                     metadata={"format": FORMAT, "instruction": clusterer.instruction})
    record["centroids_sha256"] = hashlib.sha256(centroids).hexdigest()
    config = (json.dumps(record, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    folder.mkdir(parents=True, exist_ok=True)  # ordinary permissions (umask), as every other output
    remove_stale(folder)
    _replace_pair(folder, [(CENTROIDS_FILE, centroids), (CONFIG_FILE, config)])
    return folder


PARTIAL = ".partial-"  # our temporary files: .<file>.partial-<pid>-<random> in the clustering's folder


def _replace_pair(folder: Path, files: list[tuple[str, bytes]]) -> None:
    """Write each file under a temporary name in ``folder``, then rename each into place, the JSON last.

    Two renames cannot be one atomic step, so the JSON records the centroids' sha256 and every
    reader compares it (:func:`read_tensors`): between the renames (or after a crash there) the
    old JSON names other centroids, and the pair is refused in one line, never used mismatched.
    The JSON goes last so the folder always holds one, and stays recognisably a clustering.
    """
    staged: list[tuple[Path, Path]] = []
    try:
        for name, data in files:
            temporary = folder / f".{name}{PARTIAL}{os.getpid()}-{os.urandom(4).hex()}"
            staged.append((temporary, folder / name))
            handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
        for temporary, target in staged:
            os.replace(temporary, target)
    finally:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)


def remove_stale(folder: Path) -> None:
    """Delete what interrupted saves of ours left: temporary files of a process that is gone, and
    (from older InBedder versions) hidden ``.<name>.partial-*``/``.old-*`` folders beside ``folder``
    that hold nothing but a clustering's two files."""
    for leftover in folder.glob(f".*{PARTIAL}*"):
        name, _, tail = leftover.name[1:].partition(PARTIAL)
        pid = tail.split("-")[0]
        if name in (CONFIG_FILE, CENTROIDS_FILE) and leftover.is_file() and pid.isdigit() and not _running(int(pid)):
            leftover.unlink(missing_ok=True)
    for pattern in (".partial-*", ".old-*"):
        for leftover in folder.parent.glob(f".{glob.escape(folder.name)}{pattern}"):
            if leftover.is_dir() and not leftover.is_symlink() and {p.name for p in leftover.iterdir()} <= {CONFIG_FILE, CENTROIDS_FILE}:
                shutil.rmtree(leftover, ignore_errors=True)


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's process (or not ours to tell): leave its files
    return True


def check_save_target(folder: Path, *, keep: Iterable[tuple[str | Path, str]] = ()) -> None:
    """Refuse, before any work, a target where a clustering cannot be saved or would sit among files it must not.

    ``keep``: (path, what it is) of files and folders the save must not be mixed with, such as
    the run's input and outputs: a target that is or contains one of them is refused.
    """
    folder = Path(folder)
    here, where = Path.cwd().resolve(), folder.resolve()
    if folder.name in ("", ".", "..") or where == here or where in here.parents:
        raise InBedderError(f"{folder} is the current folder or holds it; pass a folder of the clustering's own, "
                            "e.g. runs/aspect", parameter="path")
    for path, what in keep:
        inside = Path(path).resolve()
        if inside == where or where in inside.parents:
            found = f"is {what}" if inside == where else f"holds {path}, {what}"
            raise InBedderError(f"{folder} {found}; save the clustering to a folder of its own, e.g. runs/aspect",
                                parameter="path")
    for above in (folder.absolute(), *folder.absolute().parents):
        if above.exists() or above.is_symlink():
            if not above.is_dir():
                raise InBedderError(f"{above} is a file, so {folder} cannot be a folder; pass a folder to save the "
                                    "clustering in", parameter="path")
            break
    if not folder.is_dir():
        return
    mine = {CONFIG_FILE, CENTROIDS_FILE}
    for name in mine:
        if (folder / name).exists() and not (folder / name).is_file():
            raise InBedderError(f"{folder / name} is not a file; pass another folder", parameter="path")
    others = [p for p in folder.iterdir() if p.name not in mine and PARTIAL not in p.name]
    if others and not (folder / CONFIG_FILE).is_file():
        raise InBedderError(f"{folder} holds other files; pass a new or empty folder (or a saved clustering, whose "
                            "two files are then replaced)", parameter="path")


# --------------------------------------------------------------------------- loading
MAX_CONFIG_BYTES = 64 * 2**20  # a clustering.json of 10,000 clusters with names and keywords is a few MB


def read_record(path: str | Path) -> dict[str, Any]:
    """The JSON of a saved clustering, checked field by field (:mod:`inbedder.clustering.record_schema`); one line otherwise."""
    folder = Path(path)
    config = folder / CONFIG_FILE
    if not folder.is_dir() or not config.is_file() or not (folder / CENTROIDS_FILE).is_file():
        raise InBedderError(f"{folder} is not a saved clustering (it needs {CONFIG_FILE} and {CENTROIDS_FILE}); "
                            "save one with InstructionClusterer.save(DIR) or `inbedder cluster … --save-clustering DIR`",
                            parameter="clustering")
    try:
        if config.stat().st_size > MAX_CONFIG_BYTES:
            raise ValueError(f"larger than {MAX_CONFIG_BYTES // 2**20} MB")
        record = json.loads(config.read_text(encoding="utf-8"))  # NaN/Infinity parse: the schema names the field
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as error:
        detail = "nested too deeply" if isinstance(error, RecursionError) else one_line(error, limit=200)
        raise InBedderError(f"{config} is not readable JSON ({detail}); save the clustering again",
                            parameter="clustering") from error
    if isinstance(record, dict) and record.get("format") != FORMAT:
        raise InBedderError(f"{config} is not a clustering this InBedder version reads (format "
                            f"{str(record.get('format'))[:40]!r}); upgrade inbedder or save the clustering again",
                            parameter="clustering")
    try:
        return check_record(record, newest=FORMAT_VERSION)
    except RecordError as error:
        raise InBedderError(f"{config}: {one_line(error)}; {ADVICE}", parameter="clustering") from error
    except InBedderError as error:
        raise InBedderError(f"{config}: {one_line(error)}", parameter="clustering") from error


def centroids_digest(path: str | Path) -> str:
    """The sha256 of a saved clustering's centroids file: what a drill-down records of its parent."""
    return hashlib.sha256((Path(path) / CENTROIDS_FILE).read_bytes()).hexdigest()


def read_tensors(path: str | Path, record: dict[str, Any]) -> dict[str, np.ndarray]:
    """The saved tensors, checked against ``record`` (digest, names, shapes, finite values) before any model loads."""
    from safetensors import SafetensorError
    from safetensors.numpy import load

    file = Path(path) / CENTROIDS_FILE
    try:
        data = file.read_bytes()
        tensors = load(data)
        tensors["cluster_centers"]  # noqa: B018 -- a KeyError names it
        needed = [("center", "mean"), ("standardize", "scale")]
        if record.get("answer_space"):  # the answer space centres and scales its state part itself
            needed = [("answer_space", name) for name in ("mean", "scale", *ANSWER_TENSORS)]
        for flag, tensor in needed:
            if record.get(flag) and tensor not in tensors:
                raise KeyError(tensor)
    except (SafetensorError, KeyError, OSError) as error:
        raise InBedderError(f"{file} is damaged ({one_line(error, limit=200)}); save the clustering again",
                            parameter="clustering") from error
    if record.get("centroids_sha256") not in (None, hashlib.sha256(data).hexdigest()):
        raise InBedderError(f"{file} is not the file {CONFIG_FILE} was saved with (a save was interrupted, is under "
                            "way, or one file was replaced); save the clustering again", parameter="clustering")
    try:
        check_tensors(record, tensors)
    except RecordError as error:
        raise InBedderError(f"{file}: {one_line(error)}; {ADVICE}", parameter="clustering") from error
    return tensors


def read_saved(path: str | Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(record, tensors) of a saved clustering, both checked: what to call before loading its model."""
    record = read_record(path)
    return record, read_tensors(path, record)


def differences(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """The fingerprint fields that differ, as "field: saved -> here"."""
    keys = sorted(set(saved) | set(current))
    return [f"{field_name(key)}: {_cut(saved.get(key))} -> {_cut(current.get(key))}"
            for key in keys if saved.get(key) != current.get(key)]


def _cut(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 120 else shown[:119] + "…"


def build_embedder(record: dict[str, Any], **overrides: Any) -> InBedder:
    """The embedder the saved settings describe (device and cache may be overridden)."""
    settings = dict(record["embedder"])
    if settings.get("model") is None:  # saved while the embedded SmolLM2 was the default and went unnamed
        from inbedder.models.catalogue import EMBEDDED_MODEL

        settings["model"] = EMBEDDED_MODEL
    return embedder_from_settings(EmbedderSettings(**settings, method=record["method"], **overrides))


ANSWER_TENSORS = ("answer_token_ids", "answer_mean", "joined_mean")


def _answer_frame(clusterer: Clustering, tensors: dict[str, np.ndarray]) -> Any:
    """The saved answer space on the loaded model's head (None for a clustering of the state alone)."""
    if not clusterer.answer_space:
        return None
    from inbedder.clustering.answer_space import AnswerFrame, check_answer_space
    from inbedder.vectors import CorpusFrame

    head = check_answer_space(clusterer.model, clusterer.method, clusterer.answer_space, clusterer.state_weight)
    if tensors["answer_token_ids"].max() >= head.weight.shape[0]:
        raise InBedderError(f"the saved answer_token_ids go beyond this model's {head.weight.shape[0]} tokens; "
                            "use the model the clustering was saved with", parameter="clustering")
    return AnswerFrame(CorpusFrame(tensors["mean"], tensors["scale"]), tensors["answer_token_ids"].astype(np.int64),
                       tensors["answer_mean"], tensors["joined_mean"], clusterer.state_weight, head)


def load_clustering(cls: type[Clustering], path: str | Path, *, model: InBedder | None = None, **embedder: Any) -> Clustering:
    """A clusterer with the saved centroids, threshold and names, and a model checked against the fingerprint."""
    folder = Path(path)
    record, tensors = read_saved(folder)
    centres = tensors["cluster_centers"]
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
    clusterer.saved_descriptions_ = {int(c): text for c, text in (record.get("descriptions") or {}).items()}
    clusterer.keywords_ = {int(c["cluster"]): list(c["keywords"]) for c in record["clusters"]}
    clusterer.fitted_texts_ = record["texts"]
    clusterer.parent_ = record.get("parent")
    clusterer.multi_, clusterer.lister_ = record.get("multi"), record.get("multi_lister")
    return clusterer
