"""word2vec's sampling of a corpus, shared by IESG's corpus windows and the joint model's skip-gram
pairs: frequent words down-sampled, a context word drawn within the window of each centre, negative
words drawn from the unigram^0.75 distribution.
"""

from __future__ import annotations

import numpy as np

DOWNSAMPLE_CHUNK_TOKENS = 1 << 20


def unigram_noise_cdf(counts: np.ndarray) -> np.ndarray:
    """Cumulative unigram^0.75 distribution over the vocabulary: word2vec's negative sampling."""
    weights = np.asarray(counts, dtype=np.float64) ** 0.75
    return np.cumsum(weights / max(weights.sum(), 1e-300))


def keep_probability(counts: np.ndarray, sample: float) -> np.ndarray:
    """word2vec's chance of keeping each vocabulary word in the down-sampled token stream (1 for a word
    that never occurs)."""
    counts = np.asarray(counts, dtype=np.float64)
    frequency = counts / max(counts.sum(), 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        keep = (np.sqrt(frequency / sample) + 1) * sample / frequency
    return np.nan_to_num(np.minimum(1.0, keep), nan=1.0)


class CorpusSampler:
    """The in-vocabulary tokens of a corpus and the draws both corpus models make on them.

    Each model composes the draws in its own order (:class:`pipeline.models.iesg.CorpusWindows`,
    :class:`pipeline.models.joint.SkipGramPairs`); every draw takes the generator it consumes.

    Parameters
    ----------
    tokens : ndarray of int
        The corpus as vocabulary indices (-1 for out-of-vocabulary tokens, dropped here).
    counts : ndarray, shape (V,)
        Corpus count of every vocabulary word (for down-sampling and the negative distribution).
    """

    def __init__(self, tokens: np.ndarray, counts: np.ndarray) -> None:
        self.tokens = tokens[tokens >= 0]
        self.counts = counts
        self.negative_cdf = unigram_noise_cdf(counts)

    chunk_tokens = DOWNSAMPLE_CHUNK_TOKENS

    def downsampled(self, rng: np.random.Generator, sample: float) -> np.ndarray:
        """The token stream with frequent words dropped as word2vec does (one uniform draw per token);
        ``sample`` 0 keeps every token and draws nothing.

        The draws are made :attr:`chunk_tokens` at a time (the same stream as one draw for all, since every
        double takes one 64-bit output of the generator), so the only corpus-sized array made here is
        the kept stream: its buffer is allocated whole but only the kept tokens' pages are touched.
        """
        if sample <= 0:
            return self.tokens
        keep = keep_probability(self.counts, sample)
        stream = np.empty_like(self.tokens)
        kept = 0
        for start in range(0, len(self.tokens), self.chunk_tokens):
            chunk = self.tokens[start:start + self.chunk_tokens]
            chunk = chunk[rng.random(len(chunk)) < keep[chunk]]
            stream[kept:kept + len(chunk)] = chunk
            kept += len(chunk)
        return stream[:kept]

    @staticmethod
    def contexts(rng: np.random.Generator, positions: np.ndarray, window: int,
                 length: int) -> tuple[np.ndarray, np.ndarray]:
        """``(positions, context positions)``: each centre position's context drawn uniformly within
        ``window`` on either side (a distance, then a side), the pairs whose context falls outside a
        stream of ``length`` tokens dropped."""
        offsets = rng.integers(1, window + 1, len(positions)) * rng.choice(np.array([-1, 1]), len(positions))
        context = positions + offsets
        inside = (context >= 0) & (context < length)
        return positions[inside], context[inside]

    def negatives(self, rng: np.random.Generator, rows: int, per_row: int) -> np.ndarray:
        """(rows, per_row) negative words drawn from the unigram^0.75 distribution."""
        noise = np.searchsorted(self.negative_cdf, rng.random((rows, per_row)))
        return np.minimum(noise, len(self.counts) - 1)
