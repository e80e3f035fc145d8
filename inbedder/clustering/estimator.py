"""InstructionClusterer: the one definition of "a clustering" for the CLI, the explorer and the evaluation.

Texts are embedded by the answer to one instruction, the vectors are L2-normalised, centred
and standardised on the corpus once (:class:`inbedder.vectors.CorpusFrame`, float64) and
clustered in a canonical row order, so the same corpus gives the same clusters, numbered the
same, whoever asks and however the rows are ordered. ``n_clusters="auto"`` picks k by silhouette
(k = 2..10). Texts that fit their cluster poorly can be labelled ``-1`` (:mod:`inbedder.clustering.outliers`),
k-means can start from seed answers (:mod:`inbedder.clustering.seeding`), and a fitted clustering is saved
and loaded without pickle (:mod:`inbedder.clustering.persistence`). Only numpy is imported at load time;
scikit-learn and the explanations load on first use.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Union

import numpy as np

from inbedder.clustering.answer_space import AnswerFrame, check_answer_space
from inbedder.errors import InBedderError, NotFittedError, one_line
from inbedder.clustering.kmeans import (  # noqa: F401  (the first two are public here too)
    canonical_order, distinct_rows, kmeans_in_canonical_order, member_means, silhouette_curve, too_few_embeddings,
)
from inbedder.clustering.layers import build_layers, check_levels
from inbedder.clustering.outliers import MinSimilarity, check_min_similarity, mark, nearest_centres, similarity_to, threshold
from inbedder.vectors import CorpusFrame

if TYPE_CHECKING:
    import pandas as pd

    from inbedder.encoding.embedder import Encoded, InBedder
    from inbedder.clustering.selfcheck import SelfCheck

AUTO = "auto"
AUTO_K_RANGE = (2, 10)  # what "auto" tries: fewer than 2 is no clustering, more than 10 is rarely readable
SILHOUETTE_SAMPLE = 3000  # silhouette is O(n²); a seeded sample ranks k as well as the full corpus
NClusters = Union[int, Literal["auto"]]


def check_n_clusters(n_clusters: NClusters, texts: Sequence[str] | int) -> None:
    """Refuse a k that cannot work before any text is embedded: a whole number or "auto", then
    :func:`inbedder.validation.check_k` (k against the number of *different* texts)."""
    from inbedder.validation import check_k

    if n_clusters != AUTO and (isinstance(n_clusters, bool) or not isinstance(n_clusters, (int, np.integer))):
        raise InBedderError(f"n_clusters={n_clusters!r} is not a number of clusters; use a whole number such as 6, "
                            "or 'auto'", parameter="n_clusters")
    check_k(n_clusters, texts)


class InstructionClusterer:
    """Cluster texts by the answer to one instruction, scikit-learn style.

    Parameters are stored as given; ``fit`` resolves them. ``clustering`` is any scikit-learn
    clusterer with ``fit_predict`` (e.g. ``AgglomerativeClustering(n_clusters=4)``), used as a
    copy with its own settings; ``n_clusters`` then only matters as "auto" (k is set through
    the estimator's ``n_clusters`` parameter). Without it, k-means (``n_init``, ``random_state``).

    ``min_similarity``: texts whose cosine to their centroid is below it are labelled ``-1``
    ("other"); ``"auto"`` is the 5th percentile of the fitted texts. ``seed_answers``: k-means
    starts from the texts whose answers contain each seed word, and k is the number of seeds
    that matched (``n_clusters`` is then not used). ``center``: take the corpus' mean direction out
    of the unit rows before clustering (on by default: the model's states share one direction).
    ``standardize``: give each dimension unit variance over the corpus (on by default: a few
    dimensions of the model's state would otherwise decide every distance). ``answer_space``:
    cluster in the answer space (:mod:`inbedder.clustering.answer_space`, 1st-gen of a causal LM only): the
    first answer token's log-probabilities over the corpus' ``answer_space`` likeliest tokens,
    joined with the standardised state at ``state_weight`` (None, the default: the state alone).
    ``levels=2``: also group the clusters into named parents (:mod:`inbedder.clustering.layers`), in ``layers_``.

    After ``fit``: ``labels_`` (``-1`` for outliers), ``similarity_`` (each text's cosine to its
    centroid), ``outlier_threshold_``, ``cluster_centers_`` (one row per cluster), ``mean_`` (the
    fit's mean unit row, None without ``center``), ``scale_`` (each dimension's spread, None
    without ``standardize``), ``answer_frame_`` (the fitted answer space, None without
    ``answer_space``), ``embeddings_`` (the clustered rows: unit, centred, standardised),
    ``answers_``, ``answer_prefix_``, ``n_clusters_`` (the k used),
    ``silhouette_scores_`` ({k: score} for "auto", else None), ``seed_matches_`` ({seed: texts
    matched} or None), ``cluster_names_`` ({cluster: name from the answers}), ``method_``,
    ``texts_`` and, with gold labels ``y``, ``v_measure_``.
    """

    def __init__(
        self,
        model: InBedder | None,
        instruction: str,
        *,
        n_clusters: NClusters = 6,
        method: str | None = None,
        clustering: Any = None,
        batch_size: int = 16,
        random_state: int = 0,
        n_init: int = 10,
        min_similarity: MinSimilarity = None,
        seed_answers: Sequence[str] | None = None,
        center: bool = True,
        standardize: bool = True,
        answer_space: int | None = None,
        state_weight: float = 0.2,
        levels: int = 1,
        show_progress_bar: bool | None = None,
    ):
        self.model = model
        self.instruction = instruction
        self.n_clusters = n_clusters
        self.method = method
        self.clustering = clustering
        self.batch_size = batch_size
        self.random_state = random_state
        self.n_init = n_init
        self.min_similarity = min_similarity
        self.seed_answers = seed_answers
        self.center = center
        self.standardize = standardize
        self.answer_space = answer_space
        self.state_weight = state_weight
        self.levels = levels
        self.show_progress_bar = show_progress_bar

    # ------------------------------------------------------------------ sklearn protocol
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's parameters as stored (scikit-learn's ``clone`` and grid search use this)."""
        names = [name for name in inspect.signature(type(self).__init__).parameters if name != "self"]
        return {name: getattr(self, name) for name in names}

    def set_params(self, **params: Any) -> InstructionClusterer:
        """Change parameters (scikit-learn's protocol); takes effect at the next ``fit``."""
        valid = self.get_params()
        for name, value in params.items():
            if name not in valid:
                raise InBedderError(f"unknown parameter {name!r}; valid: {', '.join(valid)}", parameter=name)
            setattr(self, name, value)
        return self

    def __sklearn_clone__(self) -> InstructionClusterer:
        """An unfitted copy for ``sklearn.base.clone``: the model is shared, not deep-copied (it
        holds the weights and a cache connection); a given ``clustering`` is cloned."""
        params = self.get_params()
        if params["clustering"] is not None:
            from sklearn.base import clone

            params["clustering"] = clone(params["clustering"])
        return type(self)(**params)

    def fit(
        self, texts: Sequence[str], y: Sequence | None = None, *, embeddings: np.ndarray | None = None,
        answers: Sequence[str] | None = None, answer_prefix: str = "",
    ) -> InstructionClusterer:
        """Embed (or read from the cache), cluster, and keep the answers that explain the clusters.

        ``y``: gold labels (missing ones are skipped by the V-measure). ``embeddings``: one row
        per text computed beforehand; the model is then not run, and the answers are fetched
        (from the cache, else generated) only when :meth:`cluster_info` first needs them, unless
        ``answers`` (one per row, continued from ``answer_prefix``) come with them, as the answer
        rows of :class:`~inbedder.clustering.multi.MultiAnswerClusterer` do.
        """
        texts = list(texts)
        if answers is not None and (embeddings is None or len(answers) != len(texts)):
            raise InBedderError("answers are given with embeddings, one per text; pass both or neither", parameter="answers")
        check_n_clusters(AUTO if self.clustering is not None or self.seed_answers else self.n_clusters, texts)
        check_min_similarity(self.min_similarity)
        check_levels(self.levels, self.n_clusters)
        seeds = self._seeds()
        if seeds:
            from inbedder.clustering.seeding import check_seed_count

            check_seed_count(seeds, texts)
        gold = None if y is None else list(y)
        if gold is not None and len(gold) != len(texts):
            raise InBedderError(f"y has {len(gold)} labels for {len(texts)} texts; give one per text", parameter="y")
        self.method_ = self.method or (self.model.method if self.model is not None else None)
        head = self._answer_head()
        self.answers_, self.answer_prefix_, self.cluster_names_ = None, None, None
        self.generated_names_, self.name_prompts_ = None, None
        self.self_check_, self.descriptions_, self.parent_descriptions_ = None, None, None
        if embeddings is None:
            encoded = self._encode(texts, answers=True)
            raw = encoded.embeddings
        else:
            raw = self._given(embeddings, len(texts))
            if answers is not None:
                from inbedder.encoding.engine import Encoded

                encoded = Encoded(raw, [str(answer) for answer in answers], answer_prefix=answer_prefix)
            else:
                encoded = self._encode(texts, answers=True) if seeds else None  # seeds are matched against answers
        if head is None:
            vectors, frame = CorpusFrame.fit(raw, center=self.center, standardize=self.standardize)
        else:
            vectors, frame = AnswerFrame.fit(raw, head, tokens=self.answer_space, weight=self.state_weight)
        self.mean_, self.scale_ = frame.mean, frame.scale
        self.answer_frame_ = frame if head is not None else None
        self.embeddings_ = vectors
        self.texts_ = texts
        if seeds:
            from inbedder.clustering.seeding import seeded_kmeans

            labels, self.cluster_centers_, self.seed_matches_ = seeded_kmeans(
                vectors, texts, encoded.answers, seeds, random_state=self.random_state)
            self.silhouette_scores_ = None
        else:
            labels, self.cluster_centers_, self.silhouette_scores_ = self._cluster(vectors, texts)
            self.seed_matches_ = None
        self.n_clusters_ = len(self.cluster_centers_)
        self.similarity_ = similarity_to(self.embeddings_, self.cluster_centers_, labels)
        self.outlier_threshold_ = threshold(self.similarity_, self.min_similarity)
        self.labels_ = mark(labels, self.similarity_, self.outlier_threshold_)
        if encoded is not None:
            self._keep_answers(encoded)
        self.layers_ = None
        if self.levels == 2:
            self.layers_ = build_layers(self.cluster_centers_, self.labels_, self.answers_, instruction=self.instruction,
                                        random_state=self.random_state)
        self.true_labels_ = gold
        self.v_measure_ = None
        if gold is not None:
            from inbedder.explain import v_measure

            self.v_measure_ = v_measure(gold, self.labels_)
        return self

    def fit_predict(
        self, texts: Sequence[str], y: Sequence | None = None, *, embeddings: np.ndarray | None = None,
    ) -> np.ndarray:
        return self.fit(texts, y, embeddings=embeddings).labels_

    def predict(
        self, texts: Sequence[str], *, embeddings: np.ndarray | None = None, return_similarity: bool = False,
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """The fitted cluster nearest each text (new texts join the clusters found by ``fit``).

        Nearest centre by Euclidean distance between unit vectors (in the fit's frame:
        ``mean_`` and ``scale_``), the distance k-means itself minimises, so with k-means ``predict(fitted
        texts)`` is ``labels_``; texts below the fit's ``outlier_threshold_`` get ``-1``. ``return_similarity``: also each text's cosine
        similarity to its nearest centre.
        """
        self._check_centres()
        texts = list(texts)
        if embeddings is None:
            vectors = self._encode(texts, answers=False).embeddings
        else:
            vectors = self._given(embeddings, len(texts))
        frame = self.answer_frame_ or CorpusFrame(self.mean_, self.scale_)  # load() sets both, as fit does
        labels, similarity = nearest_centres(frame.apply(vectors), self.cluster_centers_)
        labels = mark(labels, similarity, self.outlier_threshold_)
        return (labels, similarity) if return_similarity else labels

    # ------------------------------------------------------------------ saving
    def save(self, path: str | Path) -> Path:
        """Write the fitted clustering to folder ``path`` (centroids in safetensors, the rest in JSON; no pickle)."""
        from inbedder.clustering.persistence import save_clustering

        self._check_centres()
        return save_clustering(self, path)

    @classmethod
    def load(cls, path: str | Path, *, model: InBedder | None = None) -> InstructionClusterer:
        """A saved clustering, ready to ``predict``; refused if ``model`` (default: the saved settings' model
        built here) would embed differently from the one it was fitted with."""
        from inbedder.clustering.persistence import load_clustering

        return load_clustering(cls, path, model=model)

    # ------------------------------------------------------------------ explanations
    def cluster_info(self, *, top_n_keywords: int = 8, n_examples: int = 3) -> pd.DataFrame:
        """One row per cluster: size, keywords from the answers, texts nearest the centroid.

        The question's echo is left out of the keywords, but the options it offers are kept
        ("positive or negative?" names its clusters "positive" and "negative"; see
        :func:`inbedder.explain.keywords.question_echo`). With gold labels, clusters are ordered purest first.
        """
        from inbedder.explain import cluster_table

        self._check_fitted()
        table = cluster_table(
            self.labels_, self._answers(), self.texts_, self.embeddings_, self.cluster_centers_,
            true_labels=self.true_labels_, top_n_keywords=top_n_keywords, n_examples=n_examples,
            extra_stopwords=self.instruction,
        )
        names = self.display_names()
        table.insert(1, "name", [names.get(int(cluster), "") for cluster in table["cluster"]])
        return table

    def display_names(self) -> dict[int, str]:
        """{cluster: name}: the generated name where :meth:`name_clusters` made one, else the answer phrase."""
        if not hasattr(self, "labels_") and hasattr(self, "saved_names_"):
            return dict(self.saved_names_)  # a loaded clustering: the names it was saved with
        self._check_fitted()
        self._answers()  # names come with the answers
        return {**self.cluster_names_, **(getattr(self, "generated_names_", None) or {})}

    def display_descriptions(self) -> dict[int, str]:
        """{cluster: the sentence :meth:`describe_clusters` wrote}, or the saved ones of a loaded clustering."""
        described = getattr(self, "descriptions_", None)
        if described is not None:
            return dict(described.sentences)
        return dict(getattr(self, "saved_descriptions_", None) or {})

    def display_parent_names(self) -> dict[int, str]:
        """{parent: name} with ``levels=2``: the writer's where the clusters were described, else the answers' phrase."""
        written = getattr(self, "parent_descriptions_", None)
        return {**self.layers_.names, **(written.names if written is not None else {})}

    def name_clusters(self, *, top_n_keywords: int = 8, writer: InBedder | None = None) -> dict[int, str]:
        """Ask a generator (``writer``, default the clustering's model) for a name of at most five words
        per cluster (cached, greedy).

        Sets ``generated_names_`` and ``name_prompts_`` (what the generator was shown) and
        returns the names. Needs a causal model.
        """
        from inbedder.encoding.prompts import BRIEF_CHAT_TEMPLATE
        from inbedder.explain.names import write_names

        self._check_fitted()
        if (writer or self.model) is None:
            raise InBedderError("naming clusters needs the model that writes the names; pass a model",
                                parameter="model")
        self.name_prompts_, self.generated_names_ = write_names(
            writer or self.model, self._answers(), self.labels_, instruction=self.instruction,
            top_n_keywords=top_n_keywords, batch_size=self.batch_size, template=None if writer is None else BRIEF_CHAT_TEMPLATE,
        )
        return dict(self.generated_names_)

    def describe_clusters(self, *, writer: InBedder | None = None) -> dict[int, str]:
        """A name and one contrastive sentence per cluster, written by ``writer``, with three evidence texts.

        ``writer``: default the largest catalogue model fetched here, zero-shot (see
        :mod:`inbedder.explain.writing`). The sentence is written from the cluster's typical answers beside its
        nearest clusters', the name from its answers and that sentence (:mod:`inbedder.explain.descriptions`). Sets ``generated_names_`` and ``descriptions_`` (names,
        sentences, the writer's inputs, evidence rows); returns {cluster: sentence}.
        """
        from inbedder.explain.descriptions import describe

        self._check_fitted()
        writer = writer or self._default_writer()
        self.descriptions_ = describe(writer, self._answers(), self.labels_, self.embeddings_, self.cluster_centers_,
                                      self.similarity_, fallback=self.cluster_names_, show_progress_bar=self.show_progress_bar)
        self.generated_names_, self.name_prompts_ = dict(self.descriptions_.names), dict(self.descriptions_.name_prompts)
        if getattr(self, "layers_", None) is not None:
            from inbedder.explain.descriptions import describe_parents

            self.parent_descriptions_ = describe_parents(writer, self.layers_.children(), self.descriptions_)
        return dict(self.descriptions_.sentences)

    def judge(self, *, writer: InBedder | None = None, sample: int = 40) -> float | None:
        """The self-check's judge: the share of a seeded sample of texts whose likeliest description, for ``writer``,
        is their own cluster's (describes the clusters first if needed; :mod:`inbedder.explain.judge`); added to
        :meth:`self_check`."""
        from dataclasses import replace

        from inbedder.explain.judge import judge

        self._check_fitted()
        writer = writer or self._default_writer()
        if getattr(self, "descriptions_", None) is None:
            self.describe_clusters(writer=writer)
        found = judge(writer, self.texts_, self.labels_, self.descriptions_, question=self.instruction, sample=sample,
                      random_state=self.random_state, batch_size=self.batch_size)
        self.self_check_ = replace(self.self_check(), judge_agreement=found.agreement, judge_sample=found.sample)
        return found.agreement

    def _default_writer(self) -> InBedder:
        """The largest fetched catalogue model, zero-shot, on the clustering model's device."""
        from inbedder.explain.writing import load_writer

        return load_writer(device=str(self.model.loaded.model.device) if self.model else None)

    def self_check(self) -> SelfCheck:
        """Stability and answer purity of the fitted clusters (:mod:`inbedder.clustering.selfcheck`), once per fit."""
        from inbedder.clustering.selfcheck import self_check
        from inbedder.explain.keywords import question_echo

        self._check_fitted()
        if getattr(self, "self_check_", None) is None:
            answers = self._answers()
            self.self_check_ = self_check(self.embeddings_, self.labels_, answers, self.cluster_names_ or {},
                                          random_state=self.random_state, n_init=self.n_init,
                                          stop=question_echo(self.instruction))
        return self.self_check_

    def label_composition(self) -> pd.DataFrame:
        """Cluster × gold label counts (needs labels at ``fit``)."""
        from inbedder.explain import label_composition

        self._check_fitted()
        if self.true_labels_ is None:
            raise InBedderError("no gold labels were given to fit(); pass y=[one label per text]", parameter="y")
        return label_composition(self.labels_, self.true_labels_)

    # ------------------------------------------------------------------ internals
    def _check_fitted(self) -> None:
        if not hasattr(self, "labels_"):
            detail = " (a loaded clustering keeps no texts: predict new ones)" if hasattr(self, "cluster_centers_") else ""
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(texts) first{detail}")

    def _check_centres(self) -> None:
        if not hasattr(self, "cluster_centers_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(texts) or load(path) first")

    def _seeds(self) -> list[str] | None:
        """The parsed seed answers (None without), refused with another clusterer in one line."""
        if not self.seed_answers:
            return None
        from inbedder.clustering.seeding import parse_seeds

        if self.clustering is not None:
            raise InBedderError("seed_answers start k-means; leave clustering out to use them", parameter="seed_answers")
        return parse_seeds(self.seed_answers)

    def _encode(self, texts: list[str], *, answers: bool) -> Encoded:
        if self.model is None:
            raise InBedderError("no model to embed the texts with; pass a model, or embeddings= to fit and predict",
                                parameter="model")
        return self.model.encode_with_answers(
            texts, self.instruction, method=self.method_, batch_size=self.batch_size,
            show_progress_bar=self.show_progress_bar, normalize_embeddings=not self.answer_space, answers=answers,
        )  # the answer space needs the raw states: their length is the head's temperature

    def _answer_head(self) -> Any:
        """The LM head for ``answer_space`` (None without), or a one-line refusal before any embedding."""
        if self.answer_space is None:
            return None
        return check_answer_space(self.model, self.method_, self.answer_space, self.state_weight)

    def _keep_answers(self, encoded: Encoded) -> None:
        from inbedder.explain.names import phrase_names

        self.answers_, self.answer_prefix_ = list(encoded.answers), encoded.answer_prefix
        self.cluster_names_ = phrase_names(self.answers_, self.labels_, instruction=self.instruction)

    def _answers(self) -> list[str]:
        """The fitted texts' answers; after ``fit(embeddings=…)`` fetched once, here."""
        if self.answers_ is None:
            self._keep_answers(self._encode(self.texts_, answers=True))
        return self.answers_

    @staticmethod
    def _given(embeddings: np.ndarray, count: int) -> np.ndarray:
        matrix = np.asarray(embeddings)
        if matrix.ndim != 2 or len(matrix) != count or not np.issubdtype(matrix.dtype, np.number):
            raise InBedderError(f"embeddings must be a numeric [texts, dim] array with {count} rows, got shape "
                                f"{matrix.shape}", parameter="embeddings")
        return matrix

    def _cluster(self, unit: np.ndarray, texts: list[str]) -> tuple[np.ndarray, np.ndarray, dict[int, float] | None]:
        """(labels, centres, silhouette per k or None) of the centred unit rows: a fixed k, or the best
        silhouette of 2..10. The evaluation's k-means centres the same way, so it gets the same partition.
        """
        distinct = distinct_rows(unit)
        if self.n_clusters != AUTO:
            if self.clustering is None and distinct < self.n_clusters:
                raise too_few_embeddings(len(texts), distinct, f"too few for n_clusters={self.n_clusters}",
                                         f"lower n_clusters to at most {distinct}")
            k = None if self.clustering is not None else self.n_clusters
            return (*self._partition(unit, texts, k), None)
        high = min(AUTO_K_RANGE[1], distinct - 1, len(unit) - 1)
        if high < AUTO_K_RANGE[0]:
            raise too_few_embeddings(len(texts), distinct, "too few to choose k automatically (n_clusters='auto' "
                                     f"tries k = {AUTO_K_RANGE[0]}..{AUTO_K_RANGE[1]})", "pass n_clusters=2")
        ks = range(AUTO_K_RANGE[0], high + 1)
        scores, fits = silhouette_curve(lambda k: self._partition(unit, texts, k), unit, ks,
                                        random_state=self.random_state, sample_size=SILHOUETTE_SAMPLE)
        if not scores:
            raise InBedderError(f"every k of {ks.start}..{ks.stop - 1} gave a single cluster; pass n_clusters=2 "
                                "or more", parameter="n_clusters")
        best = max(scores, key=scores.get)  # ties: the smaller k, met first
        return (*fits[best], scores)

    def _partition(self, unit: np.ndarray, texts: list[str], k: int | None) -> tuple[np.ndarray, np.ndarray]:
        """k-means, or the given clusterer (a copy; ``k`` set as its n_clusters when not None)."""
        if self.clustering is None:
            return kmeans_in_canonical_order(unit, k, texts=texts, n_init=self.n_init, random_state=self.random_state)
        from sklearn.base import clone

        estimator = clone(self.clustering)
        if k is not None:
            if "n_clusters" not in estimator.get_params():
                raise InBedderError(f"n_clusters='auto' needs a clusterer with an n_clusters parameter; "
                                    f"{type(estimator).__name__} has none", parameter="n_clusters")
            estimator.set_params(n_clusters=k)
        order = canonical_order(unit, texts)
        found = np.empty(len(unit), dtype=int)
        try:
            found[order] = estimator.fit_predict(unit[order])
        except ValueError as error:
            raise InBedderError(f"{type(estimator).__name__} failed on {len(unit)} texts: {one_line(error)}",
                                parameter="clustering") from error
        return member_means(unit, found)

