"""rank_candidates: the top-1 item of a row is the best-scored candidate wherever it sits in the row."""

from __future__ import annotations

import numpy as np

from pipeline.evaluation.protocol import rank_candidates


def test_top1_is_the_best_negative_in_any_column_when_the_true_item_is_beaten():
    items = np.array([[5, 6, 7, 8], [1, 2, 3, 4], [9, 10, 11, 12]])
    scores = np.array([[0.2, 0.1, 0.9, 0.3],   # best negative in column 2
                       [0.0, 0.1, 0.2, 0.5],   # in column 3
                       [0.8, 0.1, 0.2, 0.3]])  # the true item wins
    ranking = rank_candidates(scores, items)
    assert ranking.ranks.tolist() == [2, 3, 0]
    assert ranking.top1.tolist() == [7, 4, 9]
