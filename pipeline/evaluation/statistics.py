"""Seeded percentile-bootstrap intervals, paired across models.

Matching is resampled over test images (a cluster bootstrap: every test link of a drawn image comes
along, as many times as the image is drawn); word similarity over benchmark pairs. One set of
resamples is drawn per quantity and shared by every model, so a difference between two models is
computed on the same resamples (a paired interval).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def cluster_weights(n_clusters: int, n_resamples: int, seed: int) -> np.ndarray:
    """(n_resamples, n_clusters) counts: how often each cluster is drawn in each resample."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(n_clusters, np.full(n_clusters, 1.0 / n_clusters), size=n_resamples)


def interval(samples: np.ndarray, level: float = 0.95) -> list[float]:
    """The percentile interval ``[low, high]`` of bootstrap samples, rounded to 4 places."""
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail])
    return [round(float(low), 4), round(float(high), 4)]


def clustered_means(hits: np.ndarray, clusters: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Bootstrap replicates of ``hits.mean()`` where row ``r`` belongs to cluster ``clusters[r]``.

    Parameters
    ----------
    hits : ndarray (n,)
        Per-row value (1/0 for a hit at k).
    clusters : ndarray of int (n,)
        Cluster index of each row, in ``0 .. weights.shape[1] - 1``.
    weights : ndarray (B, n_clusters)
        From :func:`cluster_weights`.
    """
    n_clusters = weights.shape[1]
    sums = np.bincount(clusters, weights=hits.astype(np.float64), minlength=n_clusters)
    sizes = np.bincount(clusters, minlength=n_clusters).astype(np.float64)
    return (weights @ sums) / np.maximum(weights @ sizes, 1)


def spearman_replicates(ratings: np.ndarray, scores: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Spearman correlation of ``ratings`` and ``scores`` on each row of resampled pair ``indices``.

    Ties (pairs drawn more than once) get average ranks, as ``scipy.stats.spearmanr`` gives them.
    """
    x = rankdata(ratings[indices], axis=1)
    y = rankdata(scores[indices], axis=1)
    x -= x.mean(1, keepdims=True)
    y -= y.mean(1, keepdims=True)
    denominator = np.sqrt((x * x).sum(1) * (y * y).sum(1))
    return np.where(denominator > 0, (x * y).sum(1) / np.where(denominator > 0, denominator, 1), np.nan)


def pair_resamples(n_pairs: int, n_resamples: int, seed: int) -> np.ndarray:
    """(n_resamples, n_pairs) indices of pairs drawn with replacement."""
    return np.random.default_rng(seed).integers(0, n_pairs, (n_resamples, n_pairs))


def add_matching_intervals(metrics: dict, rankings: dict, clusters: np.ndarray, ks: list[int], reference: str,
                           n_resamples: int, seed: int) -> None:
    """Add to each ``metrics[model][direction][score]`` entry the 95% interval of every P@k (``ci``) and,
    for models other than ``reference``, the paired difference to it with its interval
    (``vs_<reference>``); rows are resampled by test image (``clusters``, one per ranking row)."""
    if not n_resamples or not len(clusters):
        return
    _, clusters = np.unique(clusters, return_inverse=True)
    weights = cluster_weights(int(clusters.max()) + 1, n_resamples, seed)
    replicates = {key: {k: clustered_means(ranking.ranks < k, clusters, weights) for k in ks}
                  for key, ranking in rankings.items()}
    for (model, direction, score), ranking in rankings.items():
        entry = metrics[model][direction][score]
        entry["ci"] = {f"p{k}": interval(replicates[model, direction, score][k]) for k in ks}
        if model == reference or (reference, direction, score) not in rankings:
            continue
        base = rankings[reference, direction, score]
        entry[f"vs_{reference}"] = {
            f"p{k}": {
                "diff": round(float((ranking.ranks < k).mean() - (base.ranks < k).mean()), 4),
                "ci": interval(replicates[model, direction, score][k] - replicates[reference, direction, score][k]),
            }
            for k in ks
        }


def add_similarity_intervals(similarity: dict, pair_scores: dict, reference: str, n_resamples: int,
                             seed: int) -> None:
    """Add to each ``similarity[space][benchmark]`` entry the 95% interval of its Spearman (``ci``) and,
    for spaces other than ``reference``, the paired difference to it (``vs_<reference>``).

    ``pair_scores[space][benchmark]`` is ``(ratings, cosines)`` over the same in-vocabulary pairs for
    every space; the pairs are resampled, the same resamples for every space.
    """
    if not n_resamples:
        return
    benchmarks = list(next(iter(pair_scores.values()), {}))
    for number, benchmark in enumerate(benchmarks):
        ratings = pair_scores[reference][benchmark][0]
        if len(ratings) < 3:
            continue
        indices = pair_resamples(len(ratings), n_resamples, seed + number)
        replicates = {space: spearman_replicates(scores[benchmark][0], scores[benchmark][1], indices)
                      for space, scores in pair_scores.items()}
        for space, entry in ((s, similarity[s][benchmark]) for s in pair_scores):
            entry["ci"] = interval(replicates[space])
            if space != reference and entry["spearman"] is not None:
                entry[f"vs_{reference}"] = {
                    "diff": round(entry["spearman"] - similarity[reference][benchmark]["spearman"], 4),
                    "ci": interval(replicates[space] - replicates[reference]),
                }
