"""Down-sampling drawn in chunks is the one draw for the whole corpus: same stream, same generator state after,
so IESG's triples and the joint model's pairs do not depend on the chunk size."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from pipeline.models.base import GroundingData
from pipeline.models.corpus_sampling import CorpusSampler, keep_probability
from pipeline.models.iesg import CorpusWindows
from pipeline.models.joint import SkipGramPairs
from pipeline.models.params import PAPER_IESG


def _corpus(seed: int = 0, length: int = 5000, vocabulary: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """Zipf-like tokens (so down-sampling drops some), a few out-of-vocabulary (-1), and their counts."""
    rng = np.random.default_rng(seed)
    tokens = np.minimum(rng.zipf(1.3, length) - 1, vocabulary - 1).astype(np.int64)
    tokens[rng.random(length) < 0.05] = -1
    return tokens, np.bincount(tokens[tokens >= 0], minlength=vocabulary).astype(np.int64)


@pytest.mark.parametrize("chunk_tokens", [1, 7, 1000, 10**6])
def test_chunked_downsampling_is_the_single_draw(chunk_tokens):
    tokens, counts = _corpus()
    sampler = CorpusSampler(tokens, counts)
    sampler.chunk_tokens = chunk_tokens
    chunked_rng, whole_rng = np.random.default_rng(3), np.random.default_rng(3)
    stream = sampler.downsampled(chunked_rng, 1e-2)
    in_vocabulary = tokens[tokens >= 0]
    expected = in_vocabulary[whole_rng.random(len(in_vocabulary)) < keep_probability(counts, 1e-2)[in_vocabulary]]
    assert 0 < len(expected) < len(in_vocabulary)  # some tokens dropped, some kept
    assert len(stream) == len(expected)
    everything, = stream.take(np.arange(len(expected)))
    np.testing.assert_array_equal(everything, expected)
    assert chunked_rng.bit_generator.state == whole_rng.bit_generator.state


@pytest.mark.parametrize("chunk_tokens", [1, 3, 64, 10**6])
def test_the_kept_stream_reads_like_a_copy_of_it(chunk_tokens):
    """Ranks in any order, repeated, at chunk edges, with chunks that kept nothing (chunk_tokens 1, 3)."""
    tokens, counts = _corpus(4, length=700)
    sampler = CorpusSampler(tokens, counts)
    sampler.chunk_tokens = chunk_tokens
    stream = sampler.downsampled(np.random.default_rng(0), 5e-2)
    copy = sampler.tokens[np.random.default_rng(0).random(len(sampler.tokens))
                          < keep_probability(counts, 5e-2)[sampler.tokens]]
    assert len(stream) == len(copy) < len(sampler.tokens)
    ranks = np.random.default_rng(1).integers(0, len(copy), 500)
    edges = np.array([0, len(copy) - 1, 1, 0])
    centre, context, empty = stream.take(ranks, edges, np.zeros(0, dtype=np.int64))
    np.testing.assert_array_equal(centre, copy[ranks])
    np.testing.assert_array_equal(context, copy[edges])
    assert len(empty) == 0
    words = np.zeros(len(counts), dtype=bool)
    words[[0, 3, 7]] = True
    np.testing.assert_array_equal(stream.ranks_where(words), np.flatnonzero(words[copy]))


def test_sample_zero_keeps_every_token_and_draws_nothing():
    tokens, counts = _corpus(5, length=300)
    sampler = CorpusSampler(tokens, counts)
    sampler.chunk_tokens = 7
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    stream = sampler.downsampled(rng, 0)
    np.testing.assert_array_equal(stream.take(np.arange(len(sampler.tokens)))[0], sampler.tokens)
    assert rng.bit_generator.state == state


def _draws_per_chunk_size(draw, chunk_sizes):
    """Three successive draws (epochs) from one generator per chunk size."""
    results = []
    for chunk_tokens in chunk_sizes:
        rng = np.random.default_rng(11)
        results.append([draw(chunk_tokens, rng) for _ in range(3)])
    return results


def test_joint_pairs_do_not_depend_on_the_chunk_size():
    tokens, counts = _corpus(1)

    def draw(chunk_tokens, rng):
        pairs = SkipGramPairs(tokens, counts)
        pairs.chunk_tokens = chunk_tokens
        return pairs.draw(rng, 800, 3, 4, 1e-2)

    one, chunked = _draws_per_chunk_size(draw, [len(tokens), 13])
    for epoch_one, epoch_chunked in zip(one, chunked):
        for a, b in zip(epoch_one, epoch_chunked):
            np.testing.assert_array_equal(a, b)
    assert not np.array_equal(one[0][0], one[1][0])  # the epochs differ: the generator moved on identically


def test_iesg_triples_do_not_depend_on_the_chunk_size():
    tokens, counts = _corpus(2)
    words = np.array([0, 0, 3, 5])
    data = GroundingData(np.zeros((4, 2), np.float32), np.array(["train"] * 4), words, np.arange(4))
    params = replace(PAPER_IESG, window=2, negatives=3, sample=1e-2)

    def draw(chunk_tokens, rng):
        windows = CorpusWindows(tokens, counts, data)
        windows.chunk_tokens = chunk_tokens
        return windows.draw(rng, params)

    one, chunked = _draws_per_chunk_size(draw, [len(tokens), 13])
    for epoch_one, epoch_chunked in zip(one, chunked):
        assert epoch_one.keys() == epoch_chunked.keys()
        for key in epoch_one:
            np.testing.assert_array_equal(epoch_one[key], epoch_chunked[key])
    assert len(one[0]["centre"]) > 100


def test_keep_probability_is_word2vecs_formula():
    # gensim: (sqrt(f / sample) + 1) * sample / f for a word of corpus frequency f, at most 1; 1 if it never occurs
    keep = keep_probability(np.array([900, 100, 0]), 1e-2)
    f = np.array([0.9, 0.1])
    np.testing.assert_allclose(keep[:2], (np.sqrt(f / 1e-2) + 1) * 1e-2 / f)
    np.testing.assert_allclose(keep[:2], [0.116520, 0.416228], atol=1e-6)
    assert keep[2] == 1.0
    assert keep_probability(np.array([1, 1]), 0.5).tolist() == [1.0, 1.0]  # (sqrt(1) + 1) * 1: capped at 1
