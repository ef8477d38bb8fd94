"""word2vec's sampling of a corpus, shared by IESG's corpus windows and the joint model's skip-gram
pairs: frequent words down-sampled, a context word drawn within the window of each centre, negative
words drawn from the unigram^0.75 distribution.
"""

from __future__ import annotations

from typing import Iterable, Iterator

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


class KeptStream:
    """The down-sampled token stream, held as one bit a corpus token (kept or dropped) instead of a copy.

    Parameters
    ----------
    tokens : ndarray of int64
        The in-vocabulary corpus.
    kept_flags : iterable of ndarray of bool
        Whether each token is kept, one array per ``chunk_tokens`` tokens (the last one shorter).
    chunk_tokens : int
        Tokens per flag array.
    """

    def __init__(self, tokens: np.ndarray, kept_flags: Iterable[np.ndarray], chunk_tokens: int) -> None:
        self.tokens = tokens
        self.chunk_tokens = chunk_tokens
        self.lengths, self.bits, kept = [], [], [0]
        for flags in kept_flags:  # packed as they come: the flags of the whole corpus are never held
            self.lengths.append(len(flags))
            self.bits.append(np.packbits(flags))
            kept.append(int(flags.sum()))
        self.starts = np.cumsum(kept, dtype=np.int64)  # rank of each chunk's first kept token, then the length

    def __len__(self) -> int:
        return int(self.starts[-1])

    def _kept_indices(self, chunk: int) -> np.ndarray:
        """Corpus indices of the kept tokens of ``chunk``, in order."""
        flags = np.unpackbits(self.bits[chunk], count=self.lengths[chunk])
        return chunk * self.chunk_tokens + np.flatnonzero(flags)

    def take(self, *ranks: np.ndarray) -> tuple[np.ndarray, ...]:
        """The kept stream's tokens at each array of ``ranks`` (``0 <= rank < len(self)``), as indexing a
        copy of the stream would give them."""
        taken = [np.empty(len(r), dtype=self.tokens.dtype) for r in ranks]
        chunk_of = [np.searchsorted(self.starts, r, side="right") - 1 for r in ranks]
        orders = [np.argsort(c, kind="stable") for c in chunk_of]
        bounds = [np.searchsorted(c[order], np.arange(len(self.bits) + 1)) for c, order in zip(chunk_of, orders)]
        for chunk in range(len(self.bits)):
            if not any(b[chunk] < b[chunk + 1] for b in bounds):
                continue
            indices = self._kept_indices(chunk)
            for r, out, order, b in zip(ranks, taken, orders, bounds):
                rows = order[b[chunk]:b[chunk + 1]]
                out[rows] = self.tokens[indices[r[rows] - self.starts[chunk]]]
        return tuple(taken)

    def ranks_where(self, word_mask: np.ndarray) -> np.ndarray:
        """Ranks in the kept stream of the tokens whose word has ``word_mask`` set (a bool per vocabulary word)."""
        found = [self.starts[chunk] + np.flatnonzero(word_mask[self.tokens[self._kept_indices(chunk)]])
                 for chunk in range(len(self.bits))]
        return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)


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

    def downsampled(self, rng: np.random.Generator, sample: float) -> KeptStream:
        """The token stream with frequent words dropped as word2vec does (one uniform draw per token);
        ``sample`` 0 keeps every token and draws nothing.

        The draws are made :attr:`chunk_tokens` at a time: the same stream as one draw for all, since every
        double takes one 64-bit output of the generator.
        """
        keep = keep_probability(self.counts, sample) if sample > 0 else None

        def kept_flags() -> Iterator[np.ndarray]:
            for start in range(0, len(self.tokens), self.chunk_tokens):
                chunk = self.tokens[start:start + self.chunk_tokens]
                yield rng.random(len(chunk)) < keep[chunk] if keep is not None else np.ones(len(chunk), dtype=bool)

        return KeptStream(self.tokens, kept_flags(), self.chunk_tokens)

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
