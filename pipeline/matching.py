"""Matching words and images: the paper's P@k evaluation on the test split.

Every test link ``(image, word)`` (the image is in the test split, the word is linked to it) is
asked in both directions, as in Luo's section 3.4:

* image -> word: rank the true word among itself and ``candidates - 1`` words sampled
  uniformly, without replacement, from the mapped vocabulary (every word with a link) minus
  *all* the words linked to the image;
* word -> image: rank the true image among itself and ``candidates - 1`` images sampled from
  every mapped image with features, of *any* split, minus all the images linked to the word.
  Drawing from all splits keeps the pool large (the test split alone may hold fewer images than
  candidates); the images are only ever scored through the model, never trained on as
  negatives of this word. When the pool is smaller than ``candidates - 1`` all of it is used
  and the smallest candidate-set size is reported.

The candidate sets are drawn once from the seed and shared by every model, so model
comparisons are paired. A model maps an image feature ``f`` to the word space as
``v = (f - center) @ projection``; the score of (image, word) is the inner product ``v . w``
(the paper's energy E) or the cosine. A tie with a negative counts against the true item, so a
degenerate model that scores everything alike gets P@1 = 0, not 1.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import h5py
import numpy as np
import pandas as pd
from gensim.models import KeyedVectors
from tqdm import tqdm

from pipeline.errors import PipelineError

DIRECTIONS = ("image_to_word", "word_to_image")
SCORES = ("dot", "cos")
WORD_SIDES = ("pretrained", "iesg")
MODEL_NAMES = ("l2", "iesg", "devise")


@dataclass(frozen=True)
class EvaluateParams:
    """The ``evaluate`` section of params.yaml.

    Parameters
    ----------
    candidates : int
        Size of each ranked candidate set: the true item plus ``candidates - 1`` negatives
        (the paper: 100).
    seed : int
        Seed of the negative sampling, the random-projection baseline and the example choice.
    ks : list of int
        The k of the reported P@k.
    frequency_edges : list of int
        Increasing corpus-count edges of the word-frequency buckets (``[100, 1000, 10000]``
        gives <100, 100-1k, 1k-10k, >=10k).
    analysis_model : str
        Model whose errors, frequency breakdown of P@1 in the report, and examples are analysed.
    analysis_score : {"dot", "cos"}
        Score used for the error analysis and the examples.
    sparsity_max_count : int
        A top-1 error is ``sparsity`` when the true word occurs fewer times than this in the corpus.
    synonym_max_hops : int
        ``synonym`` when one word's noun synset is a hypernym of the other's within this many
        hypernym links (0: only a shared synset).
    synonym_min_path_similarity : float
        ... or when WordNet path similarity of some pair of their noun synsets reaches this
        (1 / (1 + shortest path length); 1/3 is two links, e.g. sister terms).
    n_examples : int
        Test images and test words shown with their top results.
    top_examples : int
        Results shown per example.
    thumbnail_px : int
        Longest side of the report's JPEG thumbnails.
    analogy_restrict_vocab : int
        The analogy benchmark ranks among this many most frequent words.
    wordnet_dir : str or None
        WordNet 3.0 dict directory; None finds it as map_images does (nltk data, cache, system).
    """

    candidates: int = 100
    seed: int = 0
    ks: list[int] = field(default_factory=lambda: [1, 5, 10])
    frequency_edges: list[int] = field(default_factory=lambda: [100, 1000, 10000])
    analysis_model: str = "iesg"
    analysis_score: Literal["dot", "cos"] = "dot"
    sparsity_max_count: int = 100
    synonym_max_hops: int = 3
    synonym_min_path_similarity: float = 0.33
    n_examples: int = 8
    top_examples: int = 5
    thumbnail_px: int = 96
    analogy_restrict_vocab: int = 30000
    wordnet_dir: str | None = None

    def validate(self) -> None:
        if self.candidates < 2:
            raise ValueError(f"candidates must be >= 2, got {self.candidates}")
        if not self.ks or any(k < 1 or k > self.candidates for k in self.ks):
            raise ValueError(f"ks must be non-empty, each in [1, candidates], got {self.ks}")
        edges = self.frequency_edges
        if not edges or any(e < 1 for e in edges) or sorted(set(edges)) != edges:
            raise ValueError(f"frequency_edges must be strictly increasing positive counts, got {edges}")
        if self.analysis_model not in (*MODEL_NAMES, "random"):
            raise ValueError(f"analysis_model must be one of {', '.join(MODEL_NAMES)}, random")
        for name in ("sparsity_max_count", "synonym_max_hops"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if not 0 < self.synonym_min_path_similarity <= 1:
            raise ValueError("synonym_min_path_similarity must be in (0, 1]")
        for name in ("n_examples", "top_examples", "thumbnail_px", "analogy_restrict_vocab"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")


@dataclass(frozen=True)
class Model:
    """An image-to-word-space projection: ``v = (f - center) @ projection``.

    ``words`` names the word vectors it is scored against: ``pretrained`` or ``iesg``. With
    ``normalize_features`` each ``f`` is scaled to unit length first (as the model was trained).
    """

    name: str
    projection: np.ndarray
    center: np.ndarray
    words: str
    normalize_features: bool = False

    def embed(self, features: np.ndarray) -> np.ndarray:
        """Map image features (n x D) to word space (n x d), float32."""
        if self.normalize_features:
            features = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
        return ((features - self.center) @ self.projection).astype(np.float32, copy=False)


@dataclass(frozen=True)
class MatchingData:
    """Images, the mapped vocabulary and their links, as integer indices.

    Attributes
    ----------
    image_ids, paths, splits : list of str
        Per image with features, sorted by ``image_id``.
    features : ndarray
        (n_images, D) float32 CNN features, rows aligned with ``image_ids``.
    words : list of str
        The mapped vocabulary: every word with a link to an image with features, sorted.
    image_words, word_images : list of ndarray
        Sorted word indices linked to each image; sorted image indices linked to each word.
    pair_image, pair_word : ndarray
        The test links, sorted by (image_id, word).
    dropped_links : int
        Links whose image has no features or is not in images.csv.
    """

    image_ids: list[str]
    paths: list[str]
    splits: list[str]
    features: np.ndarray
    words: list[str]
    image_words: list[np.ndarray]
    word_images: list[np.ndarray]
    pair_image: np.ndarray
    pair_word: np.ndarray
    dropped_links: int


@dataclass(frozen=True)
class CandidateSets:
    """Ranked candidate sets of one direction.

    ``queries[r]`` is the query item of row ``r`` (an image index for image -> word, a word index
    for word -> image); ``items[r, 0]`` is the true item, ``items[r, 1:]`` the negatives, padded
    with -1 when the pool was too small.
    """

    queries: np.ndarray
    items: np.ndarray

    @property
    def sizes(self) -> np.ndarray:
        """Number of real candidates (true item included) per row."""
        return (self.items >= 0).sum(axis=1)


@dataclass(frozen=True)
class Ranking:
    """Where the true item ranked (0 = first) and the top-1 item, per candidate-set row."""

    ranks: np.ndarray
    top1: np.ndarray


def read_images(path: str | os.PathLike) -> pd.DataFrame:
    """Read images.csv (``image_id``, ``path``, ``split`` at least), all as strings."""
    table = _read_csv(path, ("image_id", "path", "split"), "run the map_images stage")
    bad = sorted(set(table["split"]) - {"train", "val", "test"})
    if bad:
        raise PipelineError(f"{path}: unknown split value(s) {', '.join(bad)}; expected train/val/test")
    if table["image_id"].duplicated().any():
        raise PipelineError(f"{path}: image_id values are not unique; rerun map_images")
    return table


def read_links(path: str | os.PathLike) -> pd.DataFrame:
    """Read links.csv (``word``, ``image_id``) as strings, duplicate rows dropped."""
    return _read_csv(path, ("word", "image_id"), "run the map_images stage").drop_duplicates(
        ["word", "image_id"]
    )


def _read_csv(path: str | os.PathLike, columns: tuple[str, ...], fix: str) -> pd.DataFrame:
    if not Path(path).is_file():
        raise PipelineError(f"{path}: file not found; {fix}")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise PipelineError(f"{path}: not a readable CSV ({exc}); {fix}") from exc
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise PipelineError(f"{path}: column(s) {', '.join(missing)} missing; {fix}")
    return table


def read_features(path: str | os.PathLike) -> tuple[list[str], np.ndarray]:
    """Read ``image_ids`` and ``features`` (n x D float32) from the featurize stage's HDF5."""
    if not Path(path).is_file():
        raise PipelineError(f"{path}: file not found; run the featurize stage")
    try:
        with h5py.File(path, "r") as h5:
            features = np.asarray(h5["features"][:], dtype=np.float32)
            ids = [i.decode() if isinstance(i, bytes) else str(i) for i in h5["image_ids"][:]]
    except (OSError, KeyError) as exc:
        raise PipelineError(
            f"{path}: not a features file with datasets 'features' and 'image_ids' ({exc}); "
            "rerun the featurize stage"
        ) from exc
    if features.ndim != 2 or len(ids) != len(features):
        raise PipelineError(f"{path}: 'features' must be (n, dim) with one image id per row")
    return ids, features


def read_vectors(path: str | os.PathLike) -> KeyedVectors:
    """Load gensim KeyedVectors saved with ``KeyedVectors.save``."""
    if not Path(path).is_file():
        raise PipelineError(f"{path}: file not found; run the stage that writes it")
    try:
        return KeyedVectors.load(str(path))
    except Exception as exc:  # gensim/pickle raise many types for a foreign or truncated file
        raise PipelineError(f"{path}: not loadable as gensim KeyedVectors ({exc})") from exc


def read_model(path: str | os.PathLike, name: str, feature_dim: int, word_dims: dict[str, int]) -> Model:
    """Load a model npz (``projection``, ``center``, ``words``, optional ``normalize_features``).

    Parameters
    ----------
    path : path
        The npz written by the train stage.
    name : str
        Model name used in the results.
    feature_dim : int
        D of the image features; ``projection`` must be (D, d) and ``center`` (D,).
    word_dims : dict
        Dimension of each word side (``pretrained``, ``iesg``); d must equal that of ``words``.
    """
    if not Path(path).is_file():
        raise PipelineError(f"{path}: file not found; run the train stage")
    try:
        with np.load(path, allow_pickle=False) as npz:
            projection = np.asarray(npz["projection"], dtype=np.float32)
            center = np.asarray(npz["center"], dtype=np.float32)
            words = str(npz["words"])
            normalize = bool(npz["normalize_features"]) if "normalize_features" in npz.files else False
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise PipelineError(
            f"{path}: not a model npz with 'projection', 'center' and 'words' ({exc}); rerun train"
        ) from exc
    if words not in word_dims:
        raise PipelineError(f"{path}: words={words!r}, expected one of {', '.join(word_dims)}")
    expected = (feature_dim, word_dims[words])
    if projection.shape != expected or center.shape != (feature_dim,):
        raise PipelineError(
            f"{path}: projection {projection.shape} / center {center.shape} do not match the "
            f"features ({feature_dim}-d) and the {words} word vectors ({word_dims[words]}-d); "
            "rerun train on the current features and vectors"
        )
    return Model(name, projection, center, words, normalize)


def random_model(features: np.ndarray, word_dim: int, seed: int) -> Model:
    """The chance reference: a seeded Gaussian projection on the pretrained word side."""
    rng = np.random.default_rng(seed)
    dim = features.shape[1]
    projection = rng.standard_normal((dim, word_dim)).astype(np.float32) / np.sqrt(dim)
    return Model("random", projection, features.mean(axis=0), "pretrained")


def build_data(
    images: pd.DataFrame,
    links: pd.DataFrame,
    feature_ids: list[str],
    features: np.ndarray,
    vocabulary: KeyedVectors,
    links_name: str = "links.csv",
) -> MatchingData:
    """Index the images that have features, the mapped words and their links.

    Links to images without features (skipped by featurize) are dropped and counted; a linked
    word outside ``vocabulary`` breaks the map_images contract and is an error.
    """
    row_of = {image_id: i for i, image_id in enumerate(feature_ids)}
    table = images[images["image_id"].isin(row_of)].sort_values("image_id", kind="stable")
    image_ids = table["image_id"].tolist()
    index_of = {image_id: i for i, image_id in enumerate(image_ids)}
    rows = np.array([row_of[i] for i in image_ids], dtype=np.int64)
    kept = links[links["image_id"].isin(index_of)]
    outside = sorted(set(kept["word"]) - set(vocabulary.key_to_index))
    if outside:
        raise PipelineError(
            f"{links_name}: {len(outside)} linked word(s) not in the word vectors (e.g. {outside[0]!r}); "
            "rerun map_images against the current vectors"
        )
    words = sorted(set(kept["word"]))
    word_index = {w: i for i, w in enumerate(words)}
    image_of_link = kept["image_id"].map(index_of).to_numpy(np.int64)
    word_of_link = kept["word"].map(word_index).to_numpy(np.int64)
    order = np.lexsort((word_of_link, image_of_link))
    image_of_link, word_of_link = image_of_link[order], word_of_link[order]
    image_words = _group(image_of_link, word_of_link, len(image_ids))
    word_images = _group(word_of_link, image_of_link, len(words))
    splits = table["split"].tolist()
    is_test = np.array([s == "test" for s in splits], dtype=bool)
    test = is_test[image_of_link]
    return MatchingData(
        image_ids=image_ids,
        paths=table["path"].tolist(),
        splits=splits,
        features=features[rows],
        words=words,
        image_words=image_words,
        word_images=word_images,
        pair_image=image_of_link[test],
        pair_word=word_of_link[test],
        dropped_links=len(links) - len(kept),
    )


def _group(keys: np.ndarray, values: np.ndarray, n: int) -> list[np.ndarray]:
    order = np.argsort(keys, kind="stable")
    keys, values = keys[order], values[order]
    bounds = np.searchsorted(keys, np.arange(n + 1))
    return [np.sort(values[bounds[i]:bounds[i + 1]]) for i in range(n)]


def sample_candidates(
    queries: np.ndarray,
    truths: np.ndarray,
    true_sets: list[np.ndarray],
    pool_size: int,
    n_negatives: int,
    rng: np.random.Generator,
    desc: str = "sample",
) -> CandidateSets:
    """Draw each row's negatives uniformly without replacement from the pool minus its true set.

    Parameters
    ----------
    queries, truths : ndarray
        Query item and true item per row.
    true_sets : list of ndarray
        Sorted items that count as correct for each query item (never drawn as negatives).
    pool_size : int
        Items are ``0 .. pool_size - 1``.
    n_negatives : int
        Negatives per row (fewer when the pool minus the true set is smaller).
    rng : numpy Generator

    Returns
    -------
    CandidateSets
    """
    items = np.full((len(queries), 1 + n_negatives), -1, dtype=np.int64)
    items[:, 0] = truths
    for row, query in enumerate(tqdm(queries, desc=desc, unit="pair", leave=False)):
        excluded = true_sets[query]
        take = min(n_negatives, pool_size - len(excluded))
        # The first `take` draws of a random order of the pool that are not excluded are a
        # uniform sample of the allowed items; at most len(excluded) draws get dropped.
        drawn = rng.choice(pool_size, size=min(pool_size, take + len(excluded)), replace=False)
        pos = np.searchsorted(excluded, drawn)
        hit = (pos < len(excluded)) & (excluded[np.minimum(pos, len(excluded) - 1)] == drawn)
        items[row, 1:1 + take] = drawn[~hit][:take]
    return CandidateSets(np.asarray(queries, dtype=np.int64), items)


def draw_candidates(data: MatchingData, candidates: int, seed: int) -> dict[str, CandidateSets]:
    """Both directions' candidate sets for the test links (image -> word drawn first)."""
    rng = np.random.default_rng(seed)
    return {
        "image_to_word": sample_candidates(
            data.pair_image, data.pair_word, data.image_words, len(data.words), candidates - 1, rng,
            desc="image->word candidates",
        ),
        "word_to_image": sample_candidates(
            data.pair_word, data.pair_image, data.word_images, len(data.image_ids), candidates - 1, rng,
            desc="word->image candidates",
        ),
    }


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1)


def candidate_scores(
    query_vectors: np.ndarray, item_vectors: np.ndarray, sets: CandidateSets, chunk: int = 512
) -> np.ndarray:
    """Inner products of each row's query with its candidates; padding scores ``-inf``."""
    scores = np.empty(sets.items.shape, dtype=np.float32)
    for start in range(0, len(sets.queries), chunk):
        items = sets.items[start:start + chunk]
        block = np.einsum(
            "nd,nkd->nk", query_vectors[sets.queries[start:start + chunk]], item_vectors[np.maximum(items, 0)]
        )
        scores[start:start + chunk] = np.where(items >= 0, block, -np.inf)
    return scores


def rank_candidates(scores: np.ndarray, items: np.ndarray) -> Ranking:
    """Rank of the true item (column 0; ties count against it) and the top-1 item per row."""
    negatives = scores[:, 1:]
    ranks = (negatives >= scores[:, :1]).sum(axis=1)
    best = items[np.arange(len(items)), 1 + negatives.argmax(axis=1)] if negatives.shape[1] else items[:, 0]
    return Ranking(ranks, np.where(ranks == 0, items[:, 0], best))


def precision_at(ranks: np.ndarray, ks: list[int]) -> dict[str, float | int]:
    """``{"p<k>": share of rows with rank < k}`` for each k, plus ``pairs``."""
    result: dict[str, float | int] = {f"p{k}": round(float((ranks < k).mean()), 4) if len(ranks) else 0.0 for k in ks}
    result["pairs"] = int(len(ranks))
    return result


def word_matrix(vectors: KeyedVectors, words: list[str]) -> np.ndarray:
    """(len(words), d) float32 rows of ``vectors`` for ``words``."""
    return np.asarray(vectors.vectors[[vectors.key_to_index[w] for w in words]], dtype=np.float32)


def embeddings(
    model: Model, data: MatchingData, word_vectors: dict[str, np.ndarray], score: str
) -> tuple[np.ndarray, np.ndarray]:
    """Image and word matrices of ``model`` for ``score`` (rows unit length for ``cos``)."""
    images, words = model.embed(data.features), word_vectors[model.words]
    if score == "cos":
        return normalize_rows(images), normalize_rows(words)
    return images, words


def evaluate_matching(
    data: MatchingData,
    models: dict[str, Model],
    word_vectors: dict[str, np.ndarray],
    sets: dict[str, CandidateSets],
    ks: list[int],
) -> tuple[dict, dict[tuple[str, str, str], Ranking]]:
    """Score every model on the shared candidate sets.

    Parameters
    ----------
    data : MatchingData
    models : dict
        name -> Model.
    word_vectors : dict
        Word side (``pretrained``/``iesg``) -> (len(data.words), d) matrix.
    sets : dict
        Direction -> CandidateSets, from :func:`draw_candidates`.
    ks : list of int

    Returns
    -------
    metrics : dict
        ``{model: {direction: {score: {p<k>..., pairs, candidates}}}}``; ``candidates`` is the
        smallest candidate-set size.
    rankings : dict
        ``(model, direction, score) -> Ranking``.
    """
    metrics: dict = {}
    rankings: dict[tuple[str, str, str], Ranking] = {}
    for name, model in models.items():
        for score in SCORES:
            images, words = embeddings(model, data, word_vectors, score)
            for direction in DIRECTIONS:
                s = sets[direction]
                query, item = (images, words) if direction == "image_to_word" else (words, images)
                ranking = rank_candidates(candidate_scores(query, item, s), s.items)
                rankings[name, direction, score] = ranking
                entry = precision_at(ranking.ranks, ks)
                entry["candidates"] = int(s.sizes.min()) if len(s.items) else 0
                metrics.setdefault(name, {}).setdefault(direction, {})[score] = entry
    return metrics, rankings
