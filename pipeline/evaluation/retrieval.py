"""Retrieval scores corrected for hubness: one image (or word) that is the nearest item of many queries.

In a high-dimensional space a few items ("hubs") lie close to most queries, so a full ranking answers
many words with the same image. Two corrections lower the score of such an item:

* ``csls``, cross-domain similarity local scaling (Conneau et al. 2018, "Word translation without
  parallel data"): ``2 s(q, i) - r(q) - r(i)``, where ``r(i)`` is the mean score of item ``i`` with its
  ``k`` best queries and ``r(q)`` the mean score of query ``q`` with its ``k`` best items. The same
  matrix, transposed, ranks the other direction;
* ``inverted_softmax`` (Smith et al. 2017, "Offline bilingual word vectors, orthogonal transformations
  and the inverted softmax"): ``exp(s(q, i) / T) / sum_q' exp(s(q', i) / T)``, each item's scores
  normalised over the queries, so that every item is retrieved about as often; returned as its
  logarithm (same order). It depends on the direction: the items are normalised, not the queries.

``plain`` leaves the scores as they are. A correction needs the scores of the whole query population
(every mapped word, or every held-out image) against the items: an item is a hub relative to them.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

RETRIEVALS = ("plain", "csls", "inverted_softmax")


def top_k_mean(scores: np.ndarray, k: int, axis: int) -> np.ndarray:
    """Mean of the ``k`` largest scores along ``axis`` (all of them when there are fewer than ``k``)."""
    k = min(k, scores.shape[axis])
    largest = np.partition(scores, scores.shape[axis] - k, axis=axis).take(
        np.arange(scores.shape[axis] - k, scores.shape[axis]), axis=axis)
    return largest.mean(axis=axis)


def corrected_scores(scores: np.ndarray, retrieval: str = "csls", *, k: int = 10, temperature: float = 0.1,
                     population: np.ndarray | None = None) -> np.ndarray:
    """The scores of ``retrieval`` (one of :data:`RETRIEVALS`), rows ranking the items for each query.

    Parameters
    ----------
    scores : ndarray (n_queries, n_items)
        Plain scores (dot or cosine) of the queries against the items.
    retrieval : {"plain", "csls", "inverted_softmax"}
    k : int
        CSLS neighbourhood size (Conneau et al. use 10).
    temperature : float
        Inverted-softmax temperature ``T`` (the inverse of Smith et al.'s beta).
    population : ndarray (n_population, n_items), optional
        Scores of the whole query population against the same items, which define how much of a hub
        each item is; default ``scores`` itself. Pass it to rank items for a few queries (one word typed
        in the CLI) as they rank among every mapped word.

    Returns
    -------
    ndarray (n_queries, n_items), float64
        Higher is better; ``plain`` returns the scores unchanged (as float64).
    """
    scores = np.asarray(scores, dtype=np.float64)
    population = scores if population is None else np.asarray(population, dtype=np.float64)
    if scores.ndim != 2 or population.ndim != 2 or population.shape[1] != scores.shape[1]:
        raise ValueError(f"scores {scores.shape} and population {population.shape} must be 2-D with as many items")
    if retrieval not in RETRIEVALS:
        raise ValueError(f"retrieval must be one of {', '.join(RETRIEVALS)}, got {retrieval!r}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if retrieval == "plain" or scores.shape[1] == 0 or population.shape[0] == 0:
        return scores
    if retrieval == "csls":
        return 2 * scores - top_k_mean(scores, k, axis=1)[:, None] - top_k_mean(population, k, axis=0)[None, :]
    return scores / temperature - logsumexp(population / temperature, axis=0)[None, :]
