"""How well could each objective match at best? Ranks words for ideal projections, no training.

    python bench/iesg_oracle.py --root . --split val            # a checkout whose pipeline has run

For every image of ``--split`` this builds the projected vector each objective asks for and ranks
all mapped words against it, as the train stage's validation P@1 does (a full ranking, scored
against the pretrained input vectors):

- L2: the mean vector of the image's linked words (the least-squares target; a perfect regression
  would output it).
- IESG: the direction in which the image hinge pushes ``v`` while the hinge is active,
  ``lambda * E[e_c] - E[e'_c]``: the expected context vector of the windows of the image's linked
  words (each word weighted by how often IESG draws this image for it: its corpus count over its
  number of training images), minus lambda-independent negatives from unigram^0.75. With the dot
  energy no ``v`` can do better on the hinge's linear part than this direction, so its P@1 is the
  ceiling of what the objective can teach ``W_p``, for input and output vectors as ``e_c``.

A low IESG ceiling means the corpus contexts of the image words do not single out the words
themselves: no optimiser, margin or schedule can then make IESG beat L2 on matching.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import table, training_inputs  # noqa: E402

import numpy as np  # noqa: E402

from pipeline.models.base import GroundingData, validation_p1  # noqa: E402


def context_means(tokens: np.ndarray, words: np.ndarray, context: np.ndarray, window: int) -> np.ndarray:
    """Mean context vector (offsets +-1..window, equally weighted) of every occurrence of each word.

    Returns an array (len(words), d); a word that never occurs gets zeros.
    """
    slot = np.full(len(context), -1, dtype=np.int64)
    slot[words] = np.arange(len(words))
    positions = np.flatnonzero((tokens >= 0) & (slot[np.maximum(tokens, 0)] >= 0))
    sums = np.zeros((len(words), context.shape[1]))
    seen = np.zeros(len(words))
    for offset in [o for d in range(1, window + 1) for o in (-d, d)]:
        around = positions + offset
        valid = (around >= 0) & (around < len(tokens))
        valid[valid] &= tokens[around[valid]] >= 0
        rows = slot[tokens[positions[valid]]]
        np.add.at(sums, rows, context[tokens[around[valid]]])
        np.add.at(seen, rows, 1)
    return sums / np.maximum(seen, 1)[:, None]


def ideal_iesg(data: GroundingData, tokens: np.ndarray, counts: np.ndarray, context: np.ndarray,
               lam: float, window: int) -> np.ndarray:
    """``lambda * E[e_c] - E[e'_c]`` per image (n_images, d), the words weighted as IESG draws them."""
    words = data.mapped_words()
    ctx = context_means(tokens, words, context, window)
    weights = counts.astype(np.float64) ** 0.75
    negative = (weights / weights.sum()) @ context
    train_words, train_images = data.links_in("train")
    images_per_word = np.bincount(train_words, minlength=len(counts))
    row = {int(w): i for i, w in enumerate(words)}
    ideal = np.zeros((len(data.features), context.shape[1]))
    total = np.zeros(len(data.features))
    for word, image in zip(data.link_words, data.link_images):
        share = counts[word] / max(images_per_word[word], 1)
        ideal[image] += share * ctx[row[int(word)]]
        total[image] += share
    return lam * ideal / np.maximum(total, 1e-12)[:, None] - negative


def ideal_l2(data: GroundingData, vectors: np.ndarray) -> np.ndarray:
    """Mean linked word vector per image (n_images, d)."""
    ideal = np.zeros((len(data.features), vectors.shape[1]))
    np.add.at(ideal, data.link_images, vectors[data.link_words])
    return ideal / np.maximum(np.bincount(data.link_images, minlength=len(ideal)), 1)[:, None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=".", help="checkout whose pipeline has run (its dvc.yaml paths)")
    parser.add_argument("--split", default="val")
    parser.add_argument("--window", type=int, default=5)
    args = parser.parse_args()

    inputs = training_inputs(args.root)
    vectors, output_vectors, data, tokens, counts = (
        inputs.vectors, inputs.output_vectors, inputs.data, inputs.tokens, inputs.counts)

    def p1(ideal: np.ndarray) -> list[str]:
        return [f"{validation_p1(ideal, vectors.vectors, data, kind, args.split):.3f}" for kind in ("dot", "cos")]

    rows = [["L2: mean linked word vector", *p1(ideal_l2(data, vectors.vectors))]]
    for name, context in (("input", vectors.vectors), ("output", output_vectors)):
        for lam in (1.0, 5.0):
            rows.append([f"IESG: lambda {lam:g}, {name} vectors as e_c",
                         *p1(ideal_iesg(data, tokens, counts, context, lam, args.window))])
    print(f"{len(data.mapped_words())} mapped words, {args.split} images ranked against all of them "
          f"(P@1 of the ideal projection):")
    print(table(rows, ["ideal projection", "P@1 dot", "P@1 cos"]))
    words = data.mapped_words()
    for name, context in (("input", vectors.vectors), ("output", output_vectors)):
        scores = context_means(tokens, words, context, args.window) @ vectors.vectors[words].T
        own = float(np.mean(np.argmax(scores, axis=1) == np.arange(len(words))))
        print(f"mapped words whose own input vector is the top match (dot) of their mean {name}-vector "
              f"context: {own:.1%}")


if __name__ == "__main__":
    main()
