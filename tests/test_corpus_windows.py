"""CorpusWindows.draw: every occurrence of a word with training images draws its own context offset."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from pipeline.models.base import GroundingData
from pipeline.models.iesg import CorpusWindows
from pipeline.models.params import PAPER_IESG


def test_each_centre_draws_its_own_context_offset_within_the_window():
    # Word 0 (linked to a training image) every 10th token from the 6th, unique filler words between: a triple's
    # context word tells the offset it was drawn at.
    centres = 60
    tokens = np.zeros(10 * centres, dtype=np.int64)
    fillers = np.arange(10 * centres) % 10 != 5
    tokens[fillers] = 1 + np.arange(fillers.sum())
    counts = np.bincount(tokens).astype(np.int64)
    data = GroundingData(np.zeros((1, 2), np.float32), np.array(["train"]), np.array([0]), np.array([0]))
    triples = CorpusWindows(tokens, counts, data).draw(np.random.default_rng(0),
                                                       replace(PAPER_IESG, window=3, negatives=1, sample=0))
    position = {int(token): index for index, token in enumerate(tokens) if token}
    centre_positions = np.flatnonzero(tokens == 0)
    assert (triples["centre"] == 0).all() and len(triples["centre"]) == centres  # none falls off the stream
    offsets = [position[int(c)] - min(centre_positions, key=lambda p: abs(p - position[int(c)]))
               for c in triples["context"]]
    assert set(offsets) == {-3, -2, -1, 1, 2, 3}


def test_negative_words_follow_the_unigram_to_the_three_quarters():
    """IESG's negatives are word2vec's noise words: P(w) proportional to count(w)^0.75 (not uniform, not the raw
    unigram), whatever the token stream."""
    counts = np.array([1, 10000, 1000, 100, 10], dtype=np.int64)
    tokens = np.tile(np.arange(5), 2000)  # word 0, the one with a training image, 2,000 times
    data = GroundingData(np.zeros((1, 2), np.float32), np.array(["train"]), np.array([0]), np.array([0]))
    triples = CorpusWindows(tokens, counts, data).draw(np.random.default_rng(0),
                                                       replace(PAPER_IESG, window=1, negatives=50, sample=0))
    noise = triples["negatives"]
    expected = counts ** 0.75 / (counts ** 0.75).sum()
    observed = np.bincount(noise.ravel(), minlength=len(counts)) / noise.size
    assert noise.size > 90000
    assert np.abs(observed - expected).max() < 0.006, (observed, expected)
