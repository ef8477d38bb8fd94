"""Bootstrap intervals: the cluster resampling against hand-computed cases, pairing across models."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.stats import spearmanr

from pipeline.evaluation.protocol import Ranking
from pipeline.evaluation.statistics import (
    add_matching_intervals, add_similarity_intervals, cluster_weights, clustered_means, interval, pair_resamples,
    spearman_replicates,
)


def test_clustered_means_weigh_every_row_of_a_drawn_cluster():
    hits = np.array([1, 0, 1, 1, 0])
    clusters = np.array([0, 0, 1, 2, 2])
    # Resample 1 draws cluster 0 twice and cluster 2 once: rows 0,1,0,1,3,4 -> 3 hits of 6.
    # Resample 2 draws clusters 1, 1, 1: 3 hits of 3.
    weights = np.array([[2, 0, 1], [0, 3, 0]])
    assert clustered_means(hits, clusters, weights).tolist() == pytest.approx([0.5, 1.0])


def test_cluster_weights_draw_as_many_clusters_as_there_are_and_are_seeded():
    weights = cluster_weights(7, 50, seed=3)
    assert weights.shape == (50, 7)
    assert (weights.sum(1) == 7).all()
    assert np.array_equal(weights, cluster_weights(7, 50, seed=3))
    assert not np.array_equal(weights, cluster_weights(7, 50, seed=4))


def test_interval_is_the_central_95_percent():
    assert interval(np.arange(1001, dtype=float) / 1000) == [0.025, 0.975]


def test_spearman_replicates_equal_scipy_on_each_resample():
    rng = np.random.default_rng(0)
    ratings, scores = rng.normal(size=30), rng.normal(size=30)
    indices = pair_resamples(30, 5, seed=1)
    expected = [spearmanr(ratings[i], scores[i]).statistic for i in indices]
    assert spearman_replicates(ratings, scores, indices).tolist() == pytest.approx(expected)


def test_a_resample_of_tied_ratings_has_no_correlation_and_no_warning():
    ratings, scores = np.array([1.0, 1.0, 2.0]), np.array([0.1, 0.2, 0.3])
    indices = np.array([[0, 1, 0], [0, 1, 2]])  # the first resample draws equal ratings only
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rho = spearman_replicates(ratings, scores, indices)
    assert np.isnan(rho[0]) and rho[1] == pytest.approx(spearmanr(ratings, scores).statistic)


def test_matching_intervals_are_paired_and_exclude_zero_only_for_a_real_difference():
    rng = np.random.default_rng(0)
    clusters = np.repeat(np.arange(200), 2)  # 200 test images, 2 links each
    better = Ranking(np.where(rng.random(400) < 0.8, 0, 5), np.zeros(400))
    worse = Ranking(np.where(rng.random(400) < 0.4, 0, 5), np.zeros(400))
    metrics = {m: {"image_to_word": {"dot": {"p1": float((r.ranks < 1).mean())}}}
               for m, r in (("ref", worse), ("same", worse), ("new", better))}
    rankings = {("ref", "image_to_word", "dot"): worse, ("same", "image_to_word", "dot"): worse,
                ("new", "image_to_word", "dot"): better}
    add_matching_intervals(metrics, rankings, clusters, [1], "ref", 500, seed=0)
    new = metrics["new"]["image_to_word"]["dot"]
    low, high = new["ci"]["p1"]
    assert low < new["p1"] < high
    assert new["vs_ref"]["p1"]["diff"] == pytest.approx(new["p1"] - metrics["ref"]["image_to_word"]["dot"]["p1"])
    assert new["vs_ref"]["p1"]["ci"][0] > 0
    # The same rankings on the same resamples: a paired difference of exactly zero.
    assert metrics["same"]["image_to_word"]["dot"]["vs_ref"]["p1"] == {"diff": 0.0, "ci": [0.0, 0.0]}
    assert "vs_ref" not in metrics["ref"]["image_to_word"]["dot"]


def test_similarity_intervals_pair_the_spaces_on_the_same_pairs():
    rng = np.random.default_rng(0)
    ratings = rng.normal(size=60)
    close = ratings + rng.normal(scale=0.3, size=60)
    far = rng.normal(size=60)
    similarity = {space: {"b": {"spearman": round(float(spearmanr(ratings, s).statistic), 4)}}
                  for space, s in (("pretrained", close), ("same", close), ("noise", far))}
    scores = {space: {"b": (ratings, s)} for space, s in (("pretrained", close), ("same", close), ("noise", far))}
    add_similarity_intervals(similarity, scores, "pretrained", 400, seed=0)
    assert similarity["same"]["b"]["vs_pretrained"] == {"diff": 0.0, "ci": [0.0, 0.0]}
    assert similarity["noise"]["b"]["vs_pretrained"]["ci"][1] < 0
    low, high = similarity["pretrained"]["b"]["ci"]
    assert low < similarity["pretrained"]["b"]["spearman"] < high


def test_matching_intervals_resample_test_images_not_links(monkeypatch):
    """The bootstrap's unit is the test image: all links of a drawn image come along. One image with 90 links
    that all hit and 9 images with one missed link each: resampling the 10 images leaves the 90-link image out
    of about a third of the resamples (P@1 0 there, so the interval starts at 0), while resampling the 99 links
    would keep P@1 near 0.91 in every resample."""
    clusters = np.concatenate([np.full(90, 7), np.arange(100, 109)])  # image ids, not 0..n-1
    ranking = Ranking(np.concatenate([np.zeros(90, dtype=np.int64), np.full(9, 3)]), np.zeros(99))
    metrics = {"m": {"image_to_word": {"dot": {"p1": float((ranking.ranks < 1).mean())}}}}
    drawn = []

    def spy(n_clusters, n_resamples, seed):
        drawn.append(n_clusters)
        return cluster_weights(n_clusters, n_resamples, seed)

    monkeypatch.setattr("pipeline.evaluation.statistics.cluster_weights", spy)
    add_matching_intervals(metrics, {("m", "image_to_word", "dot"): ranking}, clusters, [1], "m", 2000, seed=0)
    assert drawn == [10]  # one weight per distinct test image
    low, high = metrics["m"]["image_to_word"]["dot"]["ci"]["p1"]
    assert low == 0.0
    assert 0.95 < high < 1.0
