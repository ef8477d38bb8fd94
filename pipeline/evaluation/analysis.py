"""Error analysis of the matching results, after the paper's section 3.6 and Figure 3.

* P@1 by the corpus frequency of the word (the true word for image -> word, the query word for
  word -> image), in log-spaced count buckets.
* Every top-1 error of image -> word gets the first type whose rule holds, in this order:

  1. ``sparsity``: the true word occurs fewer than ``sparsity_max_count`` times in the corpus,
     so its skip-gram vector is poorly trained;
  2. ``synonym``: the predicted and true words are near-synonyms in WordNet: some noun synset of
     one is a noun synset of the other, or is reachable from one of the other's noun synsets
     through at most ``synonym_max_hops`` hypernym (or instance-hypernym) links, or some pair of
     their noun synsets has WordNet path similarity >= ``synonym_min_path_similarity``
     (``1 / (1 + links between them through a common hypernym)``; 1/3 admits sister terms);
  3. ``confusion``: the image looks more like the predicted word's pictures: the cosine between
     the query image's CNN feature and the mean feature of the predicted word's training images
     is larger than with the mean of the true word's training images (both words need training
     images);
  4. ``other``.

  Words linked to the image (its hypernyms included) are never negatives, so a prediction can
  only be a hyponym, sister term or unrelated word of the truth.
* Examples: the top results of a few seeded test images and test words.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from pipeline.evaluation.protocol import CandidateSets, MatchingData, Ranking
from pipeline.models.base import unit_rows

ERROR_TYPES = ("sparsity", "synonym", "confusion", "other")


def bucket_labels(edges: Sequence[int]) -> list[str]:
    """Labels of the buckets cut at ``edges``: ``[100, 1000]`` -> ``<100, 100-1k, >=1k``."""
    names = [_short(e) for e in edges]
    return [f"<{names[0]}", *(f"{a}-{b}" for a, b in zip(names, names[1:])), f">={names[-1]}"]


def _short(count: int) -> str:
    for value, suffix in ((1_000_000, "M"), (1_000, "k")):
        if count >= value and count % value == 0:
            return f"{count // value}{suffix}"
    return str(count)


def bucket_of(counts: np.ndarray, edges: Sequence[int]) -> np.ndarray:
    """Bucket index of each count: 0 below ``edges[0]``, i for ``edges[i-1] <= c < edges[i]``."""
    return np.searchsorted(np.asarray(edges), np.asarray(counts), side="right")


def p1_by_frequency(ranks: np.ndarray, counts: np.ndarray, edges: Sequence[int]) -> list[dict[str, Any]]:
    """P@1 per frequency bucket.

    Parameters
    ----------
    ranks : ndarray
        Rank of the true item per pair (0 = correct at 1).
    counts : ndarray
        Corpus count of each pair's word.
    edges : sequence of int

    Returns
    -------
    list of dict
        One ``{"bucket", "p1", "pairs"}`` per bucket, in order (``p1`` None for an empty bucket).
    """
    buckets = bucket_of(counts, edges)
    rows = []
    for i, label in enumerate(bucket_labels(edges)):
        mask = buckets == i
        p1 = round(float((ranks[mask] == 0).mean()), 4) if mask.any() else None
        rows.append({"bucket": label, "p1": p1, "pairs": int(mask.sum())})
    return rows


def hypernym_distances(synsets: Iterable[Any], hops: int) -> dict[Any, int]:
    """Fewest hypernym / instance-hypernym links from any of ``synsets`` up to each synset within ``hops``."""
    distance = {s: 0 for s in synsets}
    frontier = set(distance)
    for step in range(1, hops + 1):
        frontier = {h for s in frontier for h in (*s.hypernyms(), *s.instance_hypernyms())} - distance.keys()
        if not frontier:
            break
        distance.update(dict.fromkeys(frontier, step))
    return distance


def wordnet_close(
    first: list[Any], second: list[Any], max_hops: int, min_path_similarity: float
) -> bool:
    """The ``synonym`` rule on two words' noun synsets (see the module docstring).

    Path similarity is ``1 / (1 + d)`` with ``d`` the fewest links between the synsets through a
    common hypernym (nltk's ``path_similarity`` for WordNet 3.0 nouns), so the threshold is a
    bound on ``d``, checked with bounded searches instead of nltk's full hypernym paths.
    """
    if not first or not second:
        return False
    max_path = math.floor(1 / min_path_similarity - 1 + 1e-9)
    reach = max(max_hops, max_path)
    up_first, up_second = hypernym_distances(first, reach), hypernym_distances(second, reach)
    if any(up_first.get(s, reach + 1) <= max_hops for s in second):
        return True
    if any(up_second.get(s, reach + 1) <= max_hops for s in first):
        return True
    return any(up_first[c] + up_second[c] <= max_path for c in up_first.keys() & up_second.keys())


def train_means(data: MatchingData) -> tuple[np.ndarray, np.ndarray]:
    """Mean CNN feature of each mapped word's training-split images, and which words have any."""
    is_train = np.array([s == "train" for s in data.splits], dtype=bool)
    means = np.zeros((len(data.words), data.features.shape[1]), dtype=np.float32)
    present = np.zeros(len(data.words), dtype=bool)
    for w, images in enumerate(data.word_images):
        images = images[is_train[images]]
        if len(images):
            means[w] = data.features[images].mean(axis=0)
            present[w] = True
    return means, present


def classify_errors(
    data: MatchingData,
    sets: CandidateSets,
    ranking: Ranking,
    counts: np.ndarray,
    synsets: Callable[[str], list[Any]],
    sparsity_max_count: int,
    synonym_max_hops: int,
    synonym_min_path_similarity: float,
) -> list[dict[str, Any]]:
    """Type every top-1 error of image -> word (see the module docstring for the rules).

    Parameters
    ----------
    data : MatchingData
    sets : CandidateSets
        The image -> word candidate sets.
    ranking : Ranking
        The analysed model's ranking of ``sets``.
    counts : ndarray
        Corpus count of each word of ``data.words``.
    synsets : callable
        word -> list of its WordNet noun synsets (nltk ``Synset``s, or anything hashable with
        ``hypernyms()`` and ``instance_hypernyms()``).
    sparsity_max_count, synonym_max_hops, synonym_min_path_similarity
        The rules' thresholds.

    Returns
    -------
    list of dict
        Per error, in row order: ``image_id``, ``truth``, ``predicted``, ``type``.
    """
    rows = np.flatnonzero(ranking.ranks > 0)
    truth, predicted, images = sets.items[rows, 0], ranking.top1[rows], sets.queries[rows]
    means, present = train_means(data)
    query = unit_rows(data.features[images])
    unit = unit_rows(means)
    confused = (
        present[truth] & present[predicted]
        & ((query * unit[predicted]).sum(axis=1) > (query * unit[truth]).sum(axis=1))
    )
    lookup = lru_cache(maxsize=None)(lambda w: list(synsets(w)))

    def close(a: int, b: int) -> bool:
        return wordnet_close(
            lookup(data.words[a]), lookup(data.words[b]), synonym_max_hops, synonym_min_path_similarity
        )

    errors = []
    for i in range(len(rows)):
        t, p = int(truth[i]), int(predicted[i])
        if counts[t] < sparsity_max_count:
            kind = "sparsity"
        elif close(t, p):
            kind = "synonym"
        elif confused[i]:
            kind = "confusion"
        else:
            kind = "other"
        errors.append(
            {"image_id": data.image_ids[images[i]], "truth": data.words[t], "predicted": data.words[p], "type": kind}
        )
    return errors


def error_shares(errors: list[dict[str, Any]]) -> dict[str, float | int]:
    """Share of each error type (4 digits) and the number of errors (``errors``)."""
    total = len(errors)
    shares: dict[str, float | int] = {
        t: round(sum(e["type"] == t for e in errors) / total, 4) if total else 0.0 for t in ERROR_TYPES
    }
    shares["errors"] = total
    return shares


def examples(
    data: MatchingData,
    images: np.ndarray,
    words: np.ndarray,
    n_examples: int,
    top: int,
    seed: int,
) -> dict[str, list[dict[str, Any]]]:
    """Top results of seeded test images (over all mapped words) and test words (over test images).

    Parameters
    ----------
    data : MatchingData
    images, words : ndarray
        The analysed model's image and word matrices for its score (unit rows for cosine).
    n_examples, top : int
        How many queries per direction, and results per query.
    seed : int

    Returns
    -------
    dict
        ``image_to_word``: ``[{"image_id", "path", "truth": [words], "top": [{"word", "score", "correct"}]}]``;
        ``word_to_image``: ``[{"word", "top": [{"image_id", "path", "score", "correct"}]}]``.
    """
    rng = np.random.default_rng(seed)
    test_images = np.unique(data.pair_image)
    test_words = np.unique(data.pair_word)
    chosen_images = np.sort(rng.choice(test_images, size=min(n_examples, len(test_images)), replace=False))
    chosen_words = np.sort(rng.choice(test_words, size=min(n_examples, len(test_words)), replace=False))
    result: dict[str, list[dict[str, Any]]] = {"image_to_word": [], "word_to_image": []}
    for i, scores in zip(chosen_images, images[chosen_images] @ words.T):
        best = _top(scores, top)
        linked = set(data.image_words[i].tolist())
        result["image_to_word"].append({
            "image_id": data.image_ids[i],
            "path": data.paths[i],
            "truth": [data.words[w] for w in sorted(linked)],
            "top": [
                {"word": data.words[w], "score": round(float(scores[w]), 4), "correct": int(w) in linked}
                for w in best
            ],
        })
    for w, scores in zip(chosen_words, words[chosen_words] @ images[test_images].T):
        best = test_images[_top(scores, top)]
        linked = set(data.word_images[w].tolist())
        result["word_to_image"].append({
            "word": data.words[w],
            "top": [
                {"image_id": data.image_ids[i], "path": data.paths[i],
                 "score": round(float(scores[np.searchsorted(test_images, i)]), 4), "correct": int(i) in linked}
                for i in best
            ],
        })
    return result


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k highest scores, best first (ties by index)."""
    return np.argsort(-scores, kind="stable")[:k]
