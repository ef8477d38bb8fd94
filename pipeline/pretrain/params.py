"""The ``pretrain`` section of params.yaml, apart from gensim (so that it is checked before gensim is imported)."""

from __future__ import annotations

from typing import Annotated
from dataclasses import dataclass

from pipeline.core.params import AT_LEAST_ONE, Range


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

    vector_size: Annotated[int, AT_LEAST_ONE] = 100
    window: Annotated[int, AT_LEAST_ONE] = 5
    negative: Annotated[int, AT_LEAST_ONE] = 5
    min_count: Annotated[int, AT_LEAST_ONE] = 5
    sample: Annotated[float, Range(ge=0, lt=1)] = 1e-3
    alpha: float = 0.025
    min_alpha: float = 0.0001
    epochs: Annotated[int, AT_LEAST_ONE] = 5
    seed: int = 0
    workers: Annotated[int, AT_LEAST_ONE] = 1
    analogy_restrict_vocab: Annotated[int, AT_LEAST_ONE] = 30000

    def validate(self) -> None:
        if not 0 < self.min_alpha <= self.alpha:
            raise ValueError("learning rates must satisfy 0 < min_alpha <= alpha")
