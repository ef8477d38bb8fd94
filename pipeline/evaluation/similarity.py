"""Word-similarity and analogy benchmarks for any gensim ``KeyedVectors``.

Scores are Spearman correlations between human ratings and cosine similarities (the paper's
Table 3 uses WordSim353 similarity / relatedness). Pairs with a word outside the vocabulary
are not scored, and their number is always reported next to the score.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from gensim.models import KeyedVectors
from gensim.test.utils import datapath

_RESOURCES = resources.files("pipeline.evaluation") / "resources" / "word_similarity"


@dataclass(frozen=True)
class PairBenchmark:
    """A file of ``word1 word2 score`` lines (``#`` lines are comments)."""

    name: str
    path: Path
    delimiter: str = "\t"


PAIR_BENCHMARKS: tuple[PairBenchmark, ...] = (
    PairBenchmark("ws353_similarity", Path(str(_RESOURCES / "ws353_similarity.txt"))),
    PairBenchmark("ws353_relatedness", Path(str(_RESOURCES / "ws353_relatedness.txt"))),
    PairBenchmark("ws353", Path(datapath("wordsim353.tsv"))),
    PairBenchmark("simlex999", Path(datapath("simlex999.txt"))),
    PairBenchmark("men", Path(str(_RESOURCES / "men.txt")), delimiter=" "),
)
ANALOGY_FILE = Path(datapath("questions-words.txt"))


def read_pairs(benchmark: PairBenchmark) -> list[tuple[str, str, float]]:
    """``(word1, word2, rating)`` triples of a benchmark file, words lower-cased."""
    pairs = []
    with open(benchmark.path, encoding="utf-8") as handle:
        for line in handle:
            if not line.strip() or line.startswith("#"):
                continue
            first, second, rating = line.strip().split(benchmark.delimiter)[:3]
            pairs.append((first.lower(), second.lower(), float(rating)))
    return pairs


def pair_scores(vectors: KeyedVectors, benchmark: PairBenchmark) -> tuple[np.ndarray, np.ndarray, int]:
    """Ratings and cosine similarities of a benchmark's in-vocabulary pairs, and the number of pairs in the file.

    Benchmark words are lower-cased before look-up; a pair with a word outside the vocabulary is left out.
    """
    pairs = read_pairs(benchmark)
    known = [(a, b, r) for a, b, r in pairs if a in vectors.key_to_index and b in vectors.key_to_index]
    ratings = np.array([r for _, _, r in known], dtype=np.float64)
    cosines = np.array([float(vectors.similarity(a, b)) for a, b, _ in known], dtype=np.float64)
    return ratings, cosines, len(pairs)


def score_pairs(vectors: KeyedVectors, benchmark: PairBenchmark) -> dict[str, float | int | None]:
    """Spearman correlation of ``vectors``' cosine similarities with a benchmark's ratings, by gensim's
    ``KeyedVectors.evaluate_word_pairs`` (case-insensitive, the whole vocabulary).

    Returns
    -------
    dict
        ``spearman`` (None when fewer than two pairs are in the vocabulary), ``pairs`` (all pairs in
        the file), ``oov_pairs`` (pairs not scored because a word is out of the vocabulary).
    """
    total = len(read_pairs(benchmark))
    try:
        _, spearman, oov_percent = vectors.evaluate_word_pairs(
            str(benchmark.path), delimiter=benchmark.delimiter, restrict_vocab=len(vectors.index_to_key))
    except ValueError:  # gensim: no pair in the vocabulary; scipy: fewer than two pairs to correlate
        return {"spearman": None, "pairs": total, "oov_pairs": total - len(pair_scores(vectors, benchmark)[0])}
    return {"spearman": round(float(spearman.statistic), 4), "pairs": total,
            "oov_pairs": round(oov_percent * total / 100)}


def read_analogies(path: Path = ANALOGY_FILE) -> list[tuple[str, str, str, str]]:
    """The ``a b c d`` questions (``a:b :: c:d``) of an analogy file, lower-cased; section lines skipped."""
    with open(path, encoding="utf-8") as handle:
        return [tuple(line.lower().split()[:4]) for line in handle if line.strip() and not line.startswith(":")]


def score_analogies(vectors: KeyedVectors, restrict_vocab: int, path: Path = ANALOGY_FILE,
                    batch: int = 1024) -> dict[str, float | int]:
    """Accuracy on the Google analogy set (``a:b :: c:?`` by 3CosAdd among the top words).

    The answers of ``KeyedVectors.evaluate_word_analogies`` (case-insensitive): the predicted word is
    the candidate most cosine-similar to ``unit(b) + unit(c) - unit(a)`` other than ``a``, ``b`` and
    ``c``; computed as one matrix product per batch of questions instead of gensim's one
    ``most_similar`` call per question (tens of times faster; the evaluate stage scores several
    word spaces).

    Parameters
    ----------
    vectors : KeyedVectors
        Word vectors to score.
    restrict_vocab : int
        Only the ``restrict_vocab`` most frequent words are candidates and only questions made of
        them are asked (the usual 30,000 of Mikolov et al.).

    Returns
    -------
    dict
        ``accuracy`` over the questions asked, ``questions`` in the file, ``oov_questions`` skipped.
    """
    questions = read_analogies(path)
    candidates = {word: i for i, word in enumerate(vectors.index_to_key[:restrict_vocab])}
    asked = np.array([[candidates[w] for w in q] for q in questions if all(w in candidates for w in q)],
                     dtype=np.int64).reshape(-1, 4)
    unit = vectors.get_normed_vectors()[:len(candidates)]
    correct = 0
    for start in range(0, len(asked), batch):
        a, b, c, expected = asked[start:start + batch].T
        scores = (unit[b] + unit[c] - unit[a]) @ unit.T
        rows = np.arange(len(a))
        scores[rows, a] = scores[rows, b] = scores[rows, c] = -np.inf
        correct += int((scores.argmax(1) == expected).sum())
    accuracy = correct / len(asked) if len(asked) else 0.0
    return {"accuracy": round(float(accuracy), 4), "questions": len(questions),
            "oov_questions": len(questions) - len(asked)}


def evaluate_vectors(vectors: KeyedVectors, analogy_restrict_vocab: int) -> dict[str, dict]:
    """All pair benchmarks plus the analogy set, keyed by benchmark name."""
    scores: dict[str, dict] = {b.name: score_pairs(vectors, b) for b in PAIR_BENCHMARKS}
    scores["analogy"] = score_analogies(vectors, analogy_restrict_vocab)
    return scores
