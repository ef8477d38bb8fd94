"""The ``pretrain`` section of params.yaml, apart from gensim (so that it is checked before gensim is imported)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PretrainParams:
    """The ``pretrain`` section of params.yaml (gensim ``Word2Vec`` arguments).

    Parameters
    ----------
    vector_size : int
        Dimensionality of the word vectors (also IESG's joint space).
    window : int
        Maximum distance between the centre and a context word (the paper: 5).
    negative : int
        Negative samples per positive pair (skip-gram with negative sampling).
    min_count : int
        Words rarer than this in the corpus are dropped from the vocabulary.
    sample : float
        Down-sampling threshold for frequent words (0 disables it).
    alpha : float
        Initial learning rate, decayed linearly to ``min_alpha``.
    min_alpha : float
        Final learning rate.
    epochs : int
        Passes over the corpus.
    seed : int
        Seed of the vector initialisation and the sampling.
    workers : int
        Training threads. Only ``workers: 1`` is bit-for-bit reproducible: with more, the
        threads' interleaving changes the result slightly from run to run.
    analogy_restrict_vocab : int
        The analogy benchmark ranks candidates among this many most frequent words.
    """

    vector_size: int = 100
    window: int = 5
    negative: int = 5
    min_count: int = 5
    sample: float = 1e-3
    alpha: float = 0.025
    min_alpha: float = 0.0001
    epochs: int = 5
    seed: int = 0
    workers: int = 1
    analogy_restrict_vocab: int = 30000

    def validate(self) -> None:
        for name in ("vector_size", "window", "negative", "min_count", "epochs", "workers",
                     "analogy_restrict_vocab"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.sample < 1:
            raise ValueError(f"sample must be in [0, 1), got {self.sample}")
        if not 0 < self.min_alpha <= self.alpha:
            raise ValueError("learning rates must satisfy 0 < min_alpha <= alpha")
