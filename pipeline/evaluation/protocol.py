"""Matching words and images: the paper's P@k evaluation on the test split.

Every test link ``(image, word)`` (the image is in the test split, the word is linked to it) is
asked in both directions, as in Luo's section 3.4:

* image -> word: rank the true word among itself and ``candidates - 1`` words sampled
  uniformly, without replacement, from the mapped vocabulary (every word with a link) minus
  *all* the words linked to the image;
* word -> image: rank the true image among itself and ``candidates - 1`` images sampled from
  the image pool minus all the images linked to the word. The pool (``image_pool``) is the test
  images, the held-out images (validation + test, the default) or, as the pipeline once did, all
  mapped images; training images are never candidates unless ``all`` is asked for, since a model
  trained with image negatives has learnt that those images are not the word. When the pool is
  smaller than ``candidates - 1`` all of it is used and the smallest candidate-set size is reported.

The candidate sets are drawn once from the seed and shared by every model, so model
comparisons are paired. A model maps an image feature ``f`` to the word space with its
:class:`~pipeline.models.base.Projection` and is scored against its own word vectors (the
pretrained ones, or those it learnt); the score of (image, word) is the inner product ``v . w``
(the paper's energy E) or the cosine. A tie with a negative counts against the true item, so a
degenerate model that scores everything alike gets P@1 = 0, not 1.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from gensim.models import KeyedVectors
from tqdm import tqdm

from pipeline.artifacts.grounding import Grounding, read_grounding
from pipeline.artifacts.model_dir import read_trained
from pipeline.artifacts.vectors import read_vectors
from pipeline.models.base import Projection, energy_rows

DIRECTIONS = ("image_to_word", "word_to_image")
SCORES = ("dot", "cos")
IMAGE_POOLS = {"test": ("test",), "heldout": ("val", "test"), "all": ("train", "val", "test")}


@dataclass(frozen=True)
class Matcher:
    """A trained projection with the vectors of the mapped words it is scored against."""

    projection: Projection
    word_vectors: np.ndarray

    def embeddings(self, features: np.ndarray, score: str) -> tuple[np.ndarray, np.ndarray]:
        """Image and word matrices for ``score`` (rows unit length for ``cos``)."""
        return energy_rows(self.projection.project(features), self.word_vectors, score)


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
        Links whose image has no features (:mod:`pipeline.artifacts.grounding`).
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


def random_projection(features: np.ndarray, word_dim: int, seed: int) -> Projection:
    """The chance reference: a seeded Gaussian projection, scored against the pretrained words."""
    rng = np.random.default_rng(seed)
    dim = features.shape[1]
    projection = rng.standard_normal((dim, word_dim)).astype(np.float32) / np.sqrt(dim)
    return Projection(projection, features.mean(axis=0).astype(np.float32))


def matching_data(grounding: Grounding, vocabulary: KeyedVectors) -> MatchingData:
    """Index the joined images (sorted by id), the mapped words (sorted) and their links (sorted)."""
    data = grounding.data
    rows = np.array(sorted(range(len(grounding.image_ids)), key=grounding.image_ids.__getitem__), dtype=np.int64)
    index_of_row = np.empty(len(rows), dtype=np.int64)
    index_of_row[rows] = np.arange(len(rows))
    mapped = np.unique(data.link_words)
    words = sorted(vocabulary.index_to_key[w] for w in mapped)
    word_index = {w: i for i, w in enumerate(words)}
    index_of_word = np.array([word_index[vocabulary.index_to_key[w]] for w in mapped], dtype=np.int64)
    image_of_link = index_of_row[data.link_images]
    word_of_link = index_of_word[np.searchsorted(mapped, data.link_words)]
    order = np.lexsort((word_of_link, image_of_link))
    image_of_link, word_of_link = image_of_link[order], word_of_link[order]
    splits = [str(data.split[r]) for r in rows]
    test = np.array([s == "test" for s in splits], dtype=bool)[image_of_link]
    return MatchingData(
        image_ids=[grounding.image_ids[r] for r in rows],
        paths=[grounding.paths[r] for r in rows],
        splits=splits,
        features=data.features[rows],
        words=words,
        image_words=_group(image_of_link, word_of_link, len(rows)),
        word_images=_group(word_of_link, image_of_link, len(words)),
        pair_image=image_of_link[test],
        pair_word=word_of_link[test],
        dropped_links=grounding.dropped["dropped_links"],
    )


@dataclass(frozen=True)
class TrainedModels:
    """The mapped images and words, the pretrained vectors, and each trained model with the word vectors it
    is scored against (``vectors``) and as a :class:`Matcher` on the mapped words."""

    data: MatchingData
    pretrained: KeyedVectors
    vectors: dict[str, KeyedVectors]
    matchers: dict[str, Matcher]


def load_trained_models(images_csv: str | os.PathLike, links_csv: str | os.PathLike,
                        features_h5: str | os.PathLike, vectors_kv: str | os.PathLike,
                        models_dir: str | os.PathLike, names: Sequence[str]) -> TrainedModels:
    """Read the joined data and every model of ``names`` (a directory each in ``models_dir``) for scoring."""
    pretrained = read_vectors(vectors_kv)
    data = matching_data(read_grounding(images_csv, links_csv, features_h5, pretrained), pretrained)
    vectors, matchers = {}, {}
    for name in names:
        projection, vectors[name] = read_trained(Path(models_dir) / name, data.features.shape[1], pretrained)
        matchers[name] = Matcher(projection, word_matrix(vectors[name], data.words))
    return TrainedModels(data, pretrained, vectors, matchers)


def random_matcher(data: MatchingData, pretrained: KeyedVectors, seed: int) -> Matcher:
    """The chance reference as a :class:`Matcher` on the pretrained words."""
    return Matcher(random_projection(data.features, pretrained.vector_size, seed), word_matrix(pretrained, data.words))


def _group(keys: np.ndarray, values: np.ndarray, n: int) -> list[np.ndarray]:
    order = np.argsort(keys, kind="stable")
    keys, values = keys[order], values[order]
    bounds = np.searchsorted(keys, np.arange(n + 1))
    return [np.sort(values[bounds[i]:bounds[i + 1]]) for i in range(n)]


def sample_candidates(
    queries: np.ndarray,
    truths: np.ndarray,
    true_sets: list[np.ndarray],
    pool: np.ndarray,
    n_negatives: int,
    rng: np.random.Generator,
    desc: str = "sample",
) -> CandidateSets:
    """Draw each row's negatives uniformly without replacement from ``pool`` minus its true set.

    Parameters
    ----------
    queries, truths : ndarray
        Query item and true item per row.
    true_sets : list of ndarray
        Sorted items that count as correct for each query item (never drawn as negatives).
    pool : ndarray of int
        The items negatives may be drawn from.
    n_negatives : int
        Negatives per row (fewer when the pool minus the true set is smaller).
    rng : numpy Generator

    Returns
    -------
    CandidateSets
    """
    pool = np.asarray(pool, dtype=np.int64)
    items = np.full((len(queries), 1 + n_negatives), -1, dtype=np.int64)
    items[:, 0] = truths
    for row, query in enumerate(tqdm(queries, desc=desc, unit="pair", leave=False)):
        excluded = true_sets[query]
        in_pool = int(np.isin(excluded, pool).sum())
        take = min(n_negatives, len(pool) - in_pool)
        # The first `take` draws of a random order of the pool that are not excluded are a
        # uniform sample of the allowed items; at most `in_pool` draws get dropped.
        drawn = pool[rng.choice(len(pool), size=min(len(pool), take + in_pool), replace=False)]
        pos = np.searchsorted(excluded, drawn)
        hit = (pos < len(excluded)) & (excluded[np.minimum(pos, len(excluded) - 1)] == drawn)
        items[row, 1:1 + take] = drawn[~hit][:take]
    return CandidateSets(np.asarray(queries, dtype=np.int64), items)


def image_pool(data: MatchingData, pool: str) -> np.ndarray:
    """Indices of the images of ``pool`` (a key of :data:`IMAGE_POOLS`)."""
    splits = IMAGE_POOLS[pool]
    return np.array([i for i, split in enumerate(data.splits) if split in splits], dtype=np.int64)


def draw_candidates(data: MatchingData, candidates: int, seed: int,
                    pool: str = "heldout") -> dict[str, CandidateSets]:
    """Both directions' candidate sets for the test links (image -> word drawn first).

    Word -> image negatives come from the images of ``pool`` (see :data:`IMAGE_POOLS`).
    """
    rng = np.random.default_rng(seed)
    return {
        "image_to_word": sample_candidates(
            data.pair_image, data.pair_word, data.image_words, np.arange(len(data.words)), candidates - 1, rng,
            desc="image->word candidates",
        ),
        "word_to_image": sample_candidates(
            data.pair_word, data.pair_image, data.word_images, image_pool(data, pool), candidates - 1, rng,
            desc="word->image candidates",
        ),
    }



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


def direction_scores(images: np.ndarray, words: np.ndarray, sets: CandidateSets, direction: str) -> np.ndarray:
    """Candidate scores of one direction: each image against its candidate words (``image_to_word``) or each
    word against its candidate images (``word_to_image``)."""
    query, item = (images, words) if direction == "image_to_word" else (words, images)
    return candidate_scores(query, item, sets)


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



def evaluate_matching(
    data: MatchingData,
    matchers: dict[str, Matcher],
    sets: dict[str, CandidateSets],
    ks: list[int],
) -> tuple[dict, dict[tuple[str, str, str], Ranking]]:
    """Score every model on the shared candidate sets.

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
    for name, matcher in matchers.items():
        for score in SCORES:
            images, words = matcher.embeddings(data.features, score)
            for direction in DIRECTIONS:
                s = sets[direction]
                ranking = rank_candidates(direction_scores(images, words, s, direction), s.items)
                rankings[name, direction, score] = ranking
                entry = precision_at(ranking.ranks, ks)
                entry["candidates"] = int(s.sizes.min()) if len(s.items) else 0
                metrics.setdefault(name, {}).setdefault(direction, {})[score] = entry
    return metrics, rankings
