"""Full-ranking retrieval and its hubness, with and without a correction (:mod:`pipeline.evaluation.retrieval`).

The P@k protocol ranks a true item among 99 random ones, which hides an image that is the top result of
most words. Here every query ranks every item:

* word -> image: each mapped word ranks the images of the pool (the held-out images by default). R@k is
  the share of the *test words* (words linked to a test image of the pool) whose top k holds an image
  linked to them (any split of the pool); the hub figures are taken over every mapped word;
* image -> word: each pool image ranks every mapped word. R@k is the share of the test images with a
  link whose top k holds a linked word; the hub figures are taken over every pool image.

Hub figures of a direction (queries q, items i): the item that is top-1 for most queries (``hub``,
``count``, ``share`` of the queries), the number of distinct top-1 items (``distinct``, and
``distinct_share``: out of the most there can be, min(queries, items)), and the skewness of the
k-occurrence N_k(i), how many queries have i in their top k (Radovanovic et al. 2010, "Hubs in space";
0 for a symmetric spread, large and positive when a few items are in most top-k lists).

Ties count against the linked item (as in :mod:`pipeline.evaluation.protocol`): a rank is the number of
unlinked items scored at least as high as the best linked one. Top-k lists break ties by item order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.evaluation.protocol import (
    DIRECTIONS, SCORES, CandidateSets, Matcher, MatchingData, precision_at, rank_candidates,
)
from pipeline.evaluation.retrieval import RETRIEVALS, corrected_scores
from pipeline.evaluation.statistics import add_matching_intervals, cluster_weights, clustered_means, interval


@dataclass(frozen=True)
class Population:
    """Who ranks whom: the pool images, and the queries whose R@k is measured.

    Attributes
    ----------
    pool : ndarray of int
        Image indices (of :class:`MatchingData`) ranked by the words and ranking the words.
    measured_words : ndarray of int
        Words with a link to an image of ``pool`` in the measured split.
    measured_images : ndarray of int
        Positions in ``pool`` of its images of the measured split that have a link.
    """

    pool: np.ndarray
    measured_words: np.ndarray
    measured_images: np.ndarray


def population(data: MatchingData, pool: np.ndarray, split: str = "test") -> Population:
    """The :class:`Population` of ``pool`` whose R@k queries are the words and images of ``split``."""
    pool = np.asarray(pool, dtype=np.int64)
    in_split = np.array([data.splits[i] == split and len(data.image_words[i]) > 0 for i in pool], dtype=bool)
    words = np.unique(np.concatenate([data.image_words[i] for i in pool[in_split]] or [np.empty(0, np.int64)]))
    return Population(pool, words.astype(np.int64), np.flatnonzero(in_split))


def top_items(scores: np.ndarray, depth: int) -> np.ndarray:
    """(n_queries, depth) item columns of each row, best first; ties keep the item order."""
    return np.argsort(-scores, axis=1, kind="stable")[:, :min(depth, scores.shape[1])]


def linked_ranks(scores: np.ndarray, linked: list[np.ndarray]) -> np.ndarray:
    """Per row, the number of unlinked items scored at least as high as the best linked one (``linked[r]``,
    non-empty columns of row ``r``)."""
    ranks = np.empty(len(linked), dtype=np.int64)
    for row, columns in enumerate(linked):
        best = scores[row, columns].max()
        ranks[row] = int((scores[row] >= best).sum()) - int((scores[row, columns] >= best).sum())
    return ranks


def hub_statistics(top: np.ndarray, n_items: int, k_occurrence: int, names: list[str]) -> dict:
    """The hub figures (module docstring) of top-k lists ``top`` (columns of items named ``names``)."""
    n_queries = len(top)
    if not n_queries or not n_items:
        return {"hub": None, "count": 0, "share": 0.0, "distinct": 0, "distinct_share": 0.0, "queries": n_queries,
                "k_occurrence_skewness": 0.0}
    top1 = np.bincount(top[:, 0], minlength=n_items)
    hub = int(top1.argmax())
    occurrence = np.bincount(top[:, :k_occurrence].ravel(), minlength=n_items).astype(np.float64)
    spread = occurrence.std()
    skewness = float(((occurrence - occurrence.mean()) ** 3).mean() / spread ** 3) if spread > 0 else 0.0
    distinct = int((top1 > 0).sum())
    return {"hub": names[hub], "count": int(top1[hub]), "share": round(float(top1[hub] / n_queries), 4),
            "distinct": distinct, "distinct_share": round(distinct / min(n_queries, n_items), 4),
            "queries": n_queries, "k_occurrence_skewness": round(skewness, 4)}


def direction_figures(scores: np.ndarray, linked: list[np.ndarray], measured: np.ndarray, ks: list[int],
                      k_occurrence: int, names: list[str]) -> tuple[dict, np.ndarray]:
    """R@k of the ``measured`` rows (``linked[j]``: the linked columns of row ``measured[j]``) and the hub
    figures of every row of ``scores``; also the measured rows' ranks."""
    ranks = linked_ranks(scores[measured], linked)
    entry = {f"r{k}": round(float((ranks < k).mean()), 4) if len(ranks) else 0.0 for k in ks}
    entry["recall_queries"] = int(len(ranks))
    entry["hub"] = hub_statistics(top_items(scores, max(k_occurrence, 1)), scores.shape[1], k_occurrence, names)
    return entry, ranks


def direction_matrices(matcher: Matcher, data: MatchingData, pool: np.ndarray, score: str, retrieval: str,
                       k: int, temperature: float) -> dict[str, np.ndarray]:
    """``{"word_to_image": (words, pool images), "image_to_word": (pool images, words)}`` scores of
    ``retrieval`` (the plain score ``score`` corrected over every mapped word and every pool image)."""
    images, words = matcher.embeddings(data.features[pool], score)
    plain = words.astype(np.float64) @ images.astype(np.float64).T
    return {"word_to_image": corrected_scores(plain, retrieval, k=k, temperature=temperature),
            "image_to_word": corrected_scores(plain.T, retrieval, k=k, temperature=temperature)}


def candidate_lookup(matrix: np.ndarray, sets: CandidateSets, direction: str, position: np.ndarray) -> np.ndarray:
    """Scores of each candidate-set row from a direction's full matrix; padding scores ``-inf``.

    ``position[i]`` is the pool position of image ``i`` (-1 outside the pool)."""
    real = sets.items >= 0
    if direction == "word_to_image":
        rows, columns = sets.queries[:, None], np.where(real, position[np.maximum(sets.items, 0)], 0)
    else:
        rows, columns = position[sets.queries][:, None], np.maximum(sets.items, 0)
    if (rows < 0).any() or (columns[real] < 0).any():
        raise ValueError("a candidate image is outside the retrieval pool; use the pool the candidates came from")
    return np.where(real, matrix[rows, columns], -np.inf)


def linked_columns(data: MatchingData, people: Population) -> dict[str, list[np.ndarray]]:
    """Per direction, the linked item columns of each measured row."""
    position = np.full(len(data.image_ids), -1, dtype=np.int64)
    position[people.pool] = np.arange(len(people.pool))
    word_links = [position[data.word_images[w]] for w in people.measured_words]
    return {"word_to_image": [p[p >= 0] for p in word_links],
            "image_to_word": [data.image_words[people.pool[j]] for j in people.measured_images]}


def recall_intervals(entries: dict[str, dict], ranks: dict[str, np.ndarray], ks: list[int], n_resamples: int,
                     seed: int) -> None:
    """Add ``ci`` of each R@k and, for corrections, ``vs_plain`` (the paired difference) to ``entries[retrieval]``;
    the measured queries are resampled (the same resamples for every retrieval)."""
    n_rows = len(next(iter(ranks.values())))
    if not n_resamples or not n_rows:
        return
    weights = cluster_weights(n_rows, n_resamples, seed)
    rows = np.arange(n_rows)
    replicates = {name: {k: clustered_means(r < k, rows, weights) for k in ks} for name, r in ranks.items()}
    for name, entry in entries.items():
        entry.setdefault("ci", {}).update({f"r{k}": interval(replicates[name][k]) for k in ks})
        if name != "plain":
            entry.setdefault("vs_plain", {}).update({
                f"r{k}": {"diff": round(float((ranks[name] < k).mean() - (ranks["plain"] < k).mean()), 4),
                          "ci": interval(replicates[name][k] - replicates["plain"][k])} for k in ks})


def evaluate_retrieval(data: MatchingData, matchers: dict[str, Matcher], sets: dict[str, CandidateSets],
                       pool: np.ndarray, ks: list[int], k: int, temperature: float, k_occurrence: int,
                       n_resamples: int, seed: int) -> dict:
    """Every model, score and retrieval of :data:`RETRIEVALS`, both directions: full-ranking R@k and hub
    figures (over ``pool``; R@k of the test words and images), and the P@k of the candidate sets ``sets``
    (which must come from ``pool``) under that retrieval, with 95% intervals and paired differences to
    ``plain`` (``ci``, ``vs_plain``) when ``n_resamples``; R@k is resampled over the measured queries, P@k
    over test images as in the matching table.

    Returns
    -------
    dict
        ``{model: {score: {retrieval: {direction: {r<k>..., recall_queries, hub, p<k>..., pairs, ci, vs_plain}}}}}``
    """
    people = population(data, pool)
    linked = linked_columns(data, people)
    measured = {"word_to_image": people.measured_words, "image_to_word": people.measured_images}
    names = {"word_to_image": [data.image_ids[i] for i in people.pool], "image_to_word": data.words}
    position = np.full(len(data.image_ids), -1, dtype=np.int64)
    position[people.pool] = np.arange(len(people.pool))
    results: dict = {}
    for model, matcher in matchers.items():
        entries, recall_ranks, precision, rankings = {}, {}, {}, {}
        for score in SCORES:
            for retrieval in RETRIEVALS:
                matrices = direction_matrices(matcher, data, people.pool, score, retrieval, k, temperature)
                for direction in DIRECTIONS:
                    key = (retrieval, direction, score)
                    entries[key], recall_ranks[key] = direction_figures(
                        matrices[direction], linked[direction], measured[direction], ks, k_occurrence, names[direction])
                    lookup = candidate_lookup(matrices[direction], sets[direction], direction, position)
                    rankings[key] = rank_candidates(lookup, sets[direction].items)
                    precision.setdefault(retrieval, {}).setdefault(direction, {})[score] = precision_at(
                        rankings[key].ranks, ks)
        add_matching_intervals(precision, rankings, data.pair_image, ks, "plain", n_resamples, seed)
        for score in SCORES:
            for direction in DIRECTIONS:
                recall_intervals({r: entries[r, direction, score] for r in RETRIEVALS},
                                 {r: recall_ranks[r, direction, score] for r in RETRIEVALS}, ks, n_resamples, seed)
        for (retrieval, direction, score), entry in entries.items():
            pk = dict(precision[retrieval][direction][score])
            entry.setdefault("ci", {}).update(pk.pop("ci", {}))
            entry.setdefault("vs_plain", {}).update(pk.pop("vs_plain", {}))
            if not entry["ci"]:
                del entry["ci"]
            if not entry["vs_plain"]:
                del entry["vs_plain"]
            entry.update(pk)
            results.setdefault(model, {}).setdefault(score, {}).setdefault(retrieval, {})[direction] = entry
    return results
