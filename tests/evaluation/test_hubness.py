"""Hubness and its corrections: hand-made hubs, CSLS and the inverted softmax on 3 x 3 cases, the evaluate stage."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import skew

from conftest import at, load_model_file, project, tiny_data
from pipeline.artifacts.headline import read_headline
from pipeline.evaluation.hubness import hub_statistics, linked_ranks, population, top_items
from pipeline.artifacts.features import read_features
from pipeline.artifacts.layout import VECTORS_FILE
from pipeline.evaluation.retrieval import corrected_scores

SCORES = np.array([[0.9, 0.8, 0.1],
                   [0.7, 0.2, 0.3],
                   [0.6, 0.5, 0.4]])


def test_hub_statistics_find_the_hand_made_hub():
    # 6 queries, 5 items; item 0 is the top-1 of 4 queries and in every top 2.
    top = np.array([[0, 1], [0, 2], [0, 1], [0, 3], [1, 0], [2, 0]])
    stats = hub_statistics(top, 5, 2, ["a", "b", "c", "d", "e"])
    assert stats["hub"] == "a" and stats["count"] == 4 and stats["share"] == 0.6667 and stats["queries"] == 6
    assert stats["distinct"] == 3 and stats["distinct_share"] == 0.6  # 3 of min(6 queries, 5 items)
    # N_2 = [6, 3, 2, 1, 0]: mean 2.4, third central moment 6.048, variance 4.24
    assert stats["k_occurrence_skewness"] == pytest.approx(6.048 / 4.24 ** 1.5, abs=1e-4)
    assert stats["k_occurrence_skewness"] == pytest.approx(skew([6, 3, 2, 1, 0]), abs=1e-4)


def test_an_even_spread_has_no_hub_and_no_skew():
    top = np.array([[0, 1], [1, 2], [2, 0]])
    stats = hub_statistics(top, 3, 2, ["a", "b", "c"])
    assert stats["count"] == 1 and stats["distinct"] == 3 and stats["distinct_share"] == 1.0
    assert stats["k_occurrence_skewness"] == 0.0


def test_top_items_break_ties_by_item_order_so_a_constant_model_is_all_hub():
    top = top_items(np.zeros((4, 3)), 2)
    assert top.tolist() == [[0, 1]] * 4
    assert hub_statistics(top, 3, 2, ["a", "b", "c"])["share"] == 1.0


def test_linked_ranks_count_unlinked_ties_against_the_best_linked_item():
    scores = np.array([[0.5, 0.9, 0.5, 0.1], [0.7, 0.7, 0.2, 0.0], [0.1, 0.2, 0.3, 0.4]])
    ranks = linked_ranks(scores, [np.array([0, 2]), np.array([1]), np.array([3, 0])])
    assert ranks.tolist() == [1, 1, 0]


def test_csls_on_a_hand_computed_3_by_3_case():
    # k = 2: query radii (row top-2 means) 0.85, 0.5, 0.55; item radii (column top-2 means) 0.8, 0.65, 0.35.
    expected = [[0.15, 0.10, -1.00],
                [0.10, -0.75, -0.25],
                [-0.15, -0.20, -0.10]]
    csls = corrected_scores(SCORES, "csls", k=2)
    np.testing.assert_allclose(csls, expected, atol=1e-12)
    assert SCORES.argmax(axis=1).tolist() == [0, 0, 0] and csls.argmax(axis=1).tolist() == [0, 0, 2]
    np.testing.assert_allclose(corrected_scores(SCORES.T, "csls", k=2), csls.T, atol=1e-12)  # symmetric


def test_csls_of_a_few_queries_uses_the_populations_item_radii():
    one = corrected_scores(SCORES[2:], "csls", k=2, population=SCORES)
    np.testing.assert_allclose(one, [[-0.15, -0.20, -0.10]], atol=1e-12)


def test_inverted_softmax_on_a_hand_computed_3_by_3_case():
    # exp(scores) = [[4, 1, 1], [2, 1, 1], [2, 2, 2]]: column sums 8, 4, 4.
    scores = np.log([[4.0, 1.0, 1.0], [2.0, 1.0, 1.0], [2.0, 2.0, 2.0]])
    probabilities = np.exp(corrected_scores(scores, "inverted_softmax", temperature=1.0))
    np.testing.assert_allclose(probabilities, [[0.5, 0.25, 0.25], [0.25, 0.25, 0.25], [0.25, 0.5, 0.5]],
                               atol=1e-12)
    halved = corrected_scores(scores, "inverted_softmax", temperature=0.5)
    np.testing.assert_allclose(halved[0, 0], 2 * math.log(4) - math.log(16 + 4 + 4), atol=1e-12)


def test_plain_is_the_scores_and_bad_arguments_are_refused():
    np.testing.assert_array_equal(corrected_scores(SCORES, "plain"), SCORES)
    for kwargs in ({"retrieval": "cslss"}, {"k": 0}, {"temperature": 0.0}, {"population": SCORES[:, :2]}):
        with pytest.raises(ValueError):
            corrected_scores(SCORES, **kwargs)


def test_population_measures_the_words_and_images_of_the_split(tiny_run):
    data = tiny_data(tiny_run)
    heldout = np.array([i for i, s in enumerate(data.splits) if s in ("val", "test")])
    people = population(data, heldout)
    assert sorted(data.words[w] for w in people.measured_words) == sorted(
        ["animal", "apple", "boat", "car", "cat", "dog", "horse", "strawberry", "zebra"])
    assert {data.splits[heldout[j]] for j in people.measured_images} == {"test"} and len(people.measured_images) == 8


def independent_word_to_image_r1(root, model: str) -> float:
    """R@1 of the test words over the held-out images by cosine, from the run's files only."""
    images = pd.read_csv(at(root, "images"), dtype=str).set_index("image_id")
    links = pd.read_csv(at(root, "links"), dtype=str)
    ids, features = read_features(at(root, "features"))
    projection, center, normalize, words = load_model_file(at(root, "models"), model)
    from gensim.models import KeyedVectors

    vectors = KeyedVectors.load(str(at(root, "model", model) / VECTORS_FILE if words == "own" else at(root, "vectors")))
    heldout = [i for i, image_id in enumerate(ids) if images.loc[image_id, "split"] in ("val", "test")]
    embedded = project(features[heldout], projection, center, normalize)
    embedded /= np.linalg.norm(embedded, axis=1, keepdims=True)
    test_words = sorted(set(links[links["image_id"].map(images["split"]) == "test"]["word"]))
    hits = []
    for word in test_words:
        vector = vectors[word] / np.linalg.norm(vectors[word])
        best = ids[heldout[int(np.argmax(embedded @ vector))]]
        hits.append(best in set(links[links["word"] == word]["image_id"]))
    return round(float(np.mean(hits)), 4)


def test_the_stage_writes_retrieval_and_hub_figures(tiny_run):
    details = json.loads(at(tiny_run, "metrics").read_text())
    retrieval = details["retrieval"]
    assert retrieval["settings"] == {"default": {"word_to_image": "inverted_softmax", "image_to_word": "plain"},
                                     "k": 10, "temperature": 0.1, "k_occurrence": 10, "image_pool": "heldout",
                                     "score": "cos"}
    assert set(retrieval["models"]) == {"l2", "devise", "iesg", "contrastive", "joint", "random"}
    for model, scores in retrieval["models"].items():
        for score, by_retrieval in scores.items():
            assert set(by_retrieval) == {"plain", "csls", "inverted_softmax"}
            plain = by_retrieval["plain"]
            for direction in ("image_to_word", "word_to_image"):
                # plain retrieval on the candidate sets is the matching table's P@k
                matching = details["matching"][model][direction][score]
                assert {k: plain[direction][k] for k in ("p1", "p5", "p10", "pairs")} == {
                    k: matching[k] for k in ("p1", "p5", "p10", "pairs")}
                assert plain[direction]["ci"]["p1"] == matching["ci"]["p1"]
            w2i = by_retrieval["csls"]["word_to_image"]
            assert w2i["recall_queries"] == 9 and w2i["hub"]["queries"] == 9
            assert by_retrieval["csls"]["image_to_word"]["recall_queries"] == 8
            assert by_retrieval["csls"]["image_to_word"]["hub"]["queries"] == 16
            assert set(w2i["vs_plain"]) == {"r1", "r5", "r10", "p1", "p5", "p10"}
            assert w2i["r1"] <= w2i["r5"] <= w2i["r10"]
            assert all(low <= w2i[key] <= high for key, (low, high) in w2i["ci"].items())
    for model in ("l2", "contrastive"):
        assert retrieval["models"][model]["cos"]["plain"]["word_to_image"]["r1"] == independent_word_to_image_r1(
            tiny_run, model)
    headline = read_headline(at(tiny_run, "headline"))
    default = retrieval["models"]["iesg"]["cos"]["inverted_softmax"]["word_to_image"]
    assert headline["iesg"]["w2i_r1"] == default["r1"] and headline["iesg"]["w2i_hub"] == default["hub"]["share"]
    assert {name for name, numbers in headline.items() if "w2i_hub" in numbers} == {
        "l2", "devise", "iesg", "contrastive", "joint"}
    page = (at(tiny_run, "report") / "index.html").read_text()
    assert "Full-ranking retrieval and hubness" in page and "inverted softmax (default)" in page


def test_the_bench_prints_plain_and_corrected_side_by_side(tiny_run, tmp_path, capsys):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    import hubness as bench

    assert bench.main([str(tiny_run), "--models", "l2,contrastive", "--json", str(tmp_path / "rows.json")]) == 0
    rows = json.loads((tmp_path / "rows.json").read_text())
    assert [(r["model"], r["retrieval"]) for r in rows[:3]] == [("l2", "plain"), ("l2", "csls"),
                                                               ("l2", "inverted_softmax")]
    details = json.loads(at(tiny_run, "metrics").read_text())["retrieval"]["models"]
    for row in rows:
        assert row["r1"] == details[row["model"]]["cos"][row["retrieval"]][row["direction"]]["r1"]
    assert bench.main([str(tiny_run), "--models", "l2", "--tune"]) == 0
    assert "csls" in capsys.readouterr().out
    assert bench.main([str(tiny_run), "--models", "nope"]) == 2
