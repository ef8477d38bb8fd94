"""Zero-shot corrections for ``split.mode: unseen``, where the val and test synsets never occur in training.

A test image of an unseen synset is linked to its own words (never seen with an image in training) and to
its hypernyms' words (``fish``, ``dog``: often seen). Two of the field's corrections, both chosen on the
validation synsets by ``bench/zero_shot.py``:

* ConSE, convex combination of semantic embeddings (Norouzi et al. 2014, "Zero-shot learning by convex
  combination of semantic embeddings"): a projection trained on the seen words is trusted only to rank the
  seen words, and an image's embedding is replaced by the mean of the vectors of its ``top`` best seen
  words, weighted by their softmax probabilities ``exp(s / T)`` renormalised over those ``top``;
* calibrated stacking (Chao et al. 2016, "An empirical study and analysis of generalized zero-shot learning
  for object recognition in the wild"): the score of every seen word is lowered by ``gamma``, since a model
  trained on the seen words scores them higher than any unseen one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import softmax

from pipeline.evaluation.protocol import MatchingData, Matcher


def seen_words(data: MatchingData) -> np.ndarray:
    """Boolean mask over ``data.words``: the words linked to at least one training image."""
    seen = np.zeros(len(data.words), dtype=bool)
    for image, split in enumerate(data.splits):
        if split == "train":
            seen[data.image_words[image]] = True
    return seen


def conse_embeddings(images: np.ndarray, words: np.ndarray, seen: np.ndarray, top: int,
                     temperature: float) -> np.ndarray:
    """Each row of ``images`` replaced by the softmax-weighted mean of its ``top`` best seen ``words`` rows.

    Parameters
    ----------
    images : ndarray (n_images, d)
        Projected images, scored against ``words`` by inner product (unit rows for cosine).
    words : ndarray (n_words, d)
        Vectors of the mapped words, in the same score space.
    seen : ndarray of bool (n_words,)
        The words linked to a training image (:func:`seen_words`).
    top : int
        Seen words per image (Norouzi et al.'s T; 1 gives the best seen word's vector).
    temperature : float
        Softmax temperature on the score scale.
    """
    if not seen.any():
        raise ValueError("ConSE needs seen words: no mapped word is linked to a training image")
    if top < 1 or not temperature > 0:
        raise ValueError(f"ConSE needs top >= 1 and temperature > 0, got {top} and {temperature}")
    seen_vectors = words[seen]
    scores = images @ seen_vectors.T
    top = min(top, len(seen_vectors))
    best = np.argpartition(-scores, top - 1, axis=1)[:, :top]
    weights = softmax(np.take_along_axis(scores, best, axis=1) / temperature, axis=1)
    return np.einsum("nt,ntd->nd", weights, seen_vectors[best]).astype(images.dtype)


@dataclass(frozen=True)
class ConSEMatcher(Matcher):
    """A trained model whose image embeddings go through :func:`conse_embeddings` before any scoring."""

    seen: np.ndarray
    top: int
    temperature: float

    def embeddings(self, features: np.ndarray, score: str) -> tuple[np.ndarray, np.ndarray]:
        images, words = super().embeddings(features, score)
        combined = conse_embeddings(images, words, self.seen, self.top, self.temperature)
        if score == "cos":
            combined /= np.maximum(np.linalg.norm(combined, axis=1, keepdims=True), 1e-12)
        return combined, words


def calibrated_scores(scores: np.ndarray, word_items: np.ndarray, seen: np.ndarray, gamma: float) -> np.ndarray:
    """Image -> word candidate scores with ``gamma`` taken off every seen word (padding, -1, left as is)."""
    is_seen = np.where(word_items >= 0, seen[np.maximum(word_items, 0)], False)
    return scores - gamma * is_seen
