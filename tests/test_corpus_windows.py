"""CorpusWindows.draw: every occurrence of a word with training images draws its own context offset."""

from __future__ import annotations

import numpy as np

from pipeline.models.base import GroundingData
from pipeline.models.iesg import CorpusWindows, IESGParams


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
                                                       IESGParams(window=3, negatives=1, sample=0))
    position = {int(token): index for index, token in enumerate(tokens) if token}
    centre_positions = np.flatnonzero(tokens == 0)
    assert (triples["centre"] == 0).all() and len(triples["centre"]) == centres  # none falls off the stream
    offsets = [position[int(c)] - min(centre_positions, key=lambda p: abs(p - position[int(c)]))
               for c in triples["context"]]
    assert set(offsets) == {-3, -2, -1, 1, 2, 3}
