"""ConSE and calibrated stacking (pipeline.evaluation.zero_shot) against hand computations."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.evaluation.protocol import MatchingData
from pipeline.evaluation.zero_shot import calibrated_scores, conse_embeddings, seen_words

WORDS = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.6, 0.8]])  # the last word is unseen
SEEN = np.array([True, True, True, False])


def test_conse_is_the_softmax_weighted_mean_of_the_best_seen_words():
    image = np.array([[0.8, 0.6]])  # seen scores 0.8, 0.6, -0.8: the unseen word (score 0.96) is never used
    weights = np.exp(np.array([0.8, 0.6]) / 0.5)
    weights /= weights.sum()
    expected = weights[0] * WORDS[0] + weights[1] * WORDS[1]
    np.testing.assert_allclose(conse_embeddings(image, WORDS, SEEN, top=2, temperature=0.5)[0], expected, rtol=1e-6)
    np.testing.assert_allclose(conse_embeddings(image, WORDS, SEEN, top=1, temperature=0.5)[0], WORDS[0])
    assert conse_embeddings(image, WORDS, SEEN, top=99, temperature=0.5).shape == (1, 2)


def test_conse_refuses_a_run_without_seen_words():
    with pytest.raises(ValueError, match="no mapped word is linked to a training image"):
        conse_embeddings(np.ones((1, 2)), WORDS, np.zeros(4, dtype=bool), top=1, temperature=1.0)


def test_calibrated_stacking_lowers_seen_words_only_and_keeps_padding():
    scores = np.array([[0.9, 0.5, -np.inf], [0.2, 0.3, 0.4]])
    items = np.array([[0, 3, -1], [3, 1, 2]])
    np.testing.assert_allclose(calibrated_scores(scores, items, SEEN, 0.25),
                               [[0.65, 0.5, -np.inf], [0.2, 0.05, 0.15]])


def test_seen_words_are_those_linked_to_a_training_image():
    data = MatchingData(image_ids=["a", "b", "c"], paths=["a", "b", "c"], splits=["train", "val", "test"],
                        features=np.zeros((3, 2), dtype=np.float32), words=["w0", "w1", "w2"],
                        image_words=[np.array([0]), np.array([1]), np.array([0, 2])],
                        word_images=[np.array([0, 2]), np.array([1]), np.array([2])],
                        pair_image=np.array([2, 2]), pair_word=np.array([0, 2]), dropped_links=0)
    assert seen_words(data).tolist() == [True, False, False]
