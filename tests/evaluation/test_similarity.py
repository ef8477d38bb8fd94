"""Word-similarity scoring against hand-computed Spearman correlations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from gensim.models import KeyedVectors

from scipy.stats import spearmanr

from pipeline.evaluation.similarity import (
    ANALOGY_FILE, PAIR_BENCHMARKS, PairBenchmark, pair_scores, read_pairs, score_analogies, score_pairs,
)


def unit(angle_degrees: float) -> list[float]:
    radians = math.radians(angle_degrees)
    return [math.cos(radians), math.sin(radians)]


@pytest.fixture
def vectors() -> KeyedVectors:
    # Every word sits on the unit circle, so cos(a, b) falls as the angle between them grows.
    angles = {"a": 0, "b": 10, "c": 30, "d": 60, "e": 100, "f": 170}
    kv = KeyedVectors(2)
    kv.add_vectors(list(angles), np.array([unit(x) for x in angles.values()]))
    return kv


def test_spearman_matches_a_hand_computed_value(tmp_path, vectors):
    toy = tmp_path / "toy.txt"
    # Cosine ranks (1 = largest): a-b 10deg -> 1, a-c 30 -> 2, a-d 60 -> 3, a-e 100 -> 4, a-f 170 -> 5.
    # Human ranks: 2, 1, 3, 5, 4.  d = (1, 1, 0, 1, 1), sum d^2 = 4,
    # rho = 1 - 6 * 4 / (5 * (25 - 1)) = 0.8.
    toy.write_text("# comment\nA\tb\t9\na\tc\t9.5\na\td\t5\na\te\t1\na\tf\t2\n")
    result = score_pairs(vectors, PairBenchmark("toy", toy))
    assert result == {"spearman": 0.8, "pairs": 5, "oov_pairs": 0}


def test_out_of_vocabulary_pairs_are_counted_not_hidden(tmp_path, vectors):
    toy = tmp_path / "toy.txt"
    # Known pairs: cosine ranks a-b 1, a-c 2, a-d 3; human ranks 2, 1, 3 -> sum d^2 = 2, rho = 1 - 12 / 24 = 0.5.
    toy.write_text("a b 3\na c 4\na zebra 1\na d 1\nyak a 4\n")
    result = score_pairs(vectors, PairBenchmark("toy", toy, delimiter=" "))
    assert result == {"spearman": 0.5, "pairs": 5, "oov_pairs": 2}


def test_too_few_known_pairs_gives_no_score(tmp_path, vectors):
    toy = tmp_path / "toy.txt"
    toy.write_text("a b 3\nzebra yak 1\n")
    assert score_pairs(vectors, PairBenchmark("toy", toy, delimiter=" "))["spearman"] is None


@pytest.mark.parametrize("pair_benchmark", PAIR_BENCHMARKS, ids=lambda b: b.name)
def test_gensim_scoring_agrees_with_the_per_pair_cosines_the_bootstrap_resamples(pair_benchmark):
    # Random vectors for a random two thirds of the benchmark's words: some pairs are out of vocabulary.
    rng = np.random.default_rng(0)
    words = sorted({w for a, b, _ in read_pairs(pair_benchmark) for w in (a, b)})
    known = [w for w in words if rng.random() < 2 / 3]
    kv = KeyedVectors(16)
    kv.add_vectors(known, rng.normal(size=(len(known), 16)))
    ratings, cosines, total = pair_scores(kv, pair_benchmark)
    scored = score_pairs(kv, pair_benchmark)
    assert 0 < scored["oov_pairs"] < total
    assert scored == {"spearman": round(float(spearmanr(ratings, cosines).statistic), 4), "pairs": total,
                      "oov_pairs": total - len(ratings)}


def test_carried_benchmarks_have_their_documented_sizes():
    sizes = {b.name: len(open(b.path).read().strip().splitlines()) for b in PAIR_BENCHMARKS}
    assert sizes["ws353_similarity"] == 203
    assert sizes["ws353_relatedness"] == 252
    assert sizes["men"] == 3000


CAPITALS = {"athens": "greece", "baghdad": "iraq", "bangkok": "thailand", "beijing": "china", "berlin": "germany"}


def analogy_questions_among(words: set[str]) -> tuple[int, int]:
    """Questions in the analogy file, and those made only of ``words``."""
    lines = [line.lower().split() for line in open(ANALOGY_FILE) if line.strip() and not line.startswith(":")]
    return len(lines), sum(set(line) <= words for line in lines)


def capital_vectors(capitals: np.ndarray, countries: np.ndarray) -> KeyedVectors:
    kv = KeyedVectors(capitals.shape[1])
    kv.add_vectors([*CAPITALS, *CAPITALS.values()], np.concatenate([capitals, countries]))
    return kv


def test_analogies_are_solved_when_every_country_is_its_capital_plus_one_offset():
    rng = np.random.default_rng(0)
    capitals = rng.normal(size=(len(CAPITALS), 32))
    offset = 3 * rng.normal(size=32)
    total, asked = analogy_questions_among({*CAPITALS, *CAPITALS.values()})
    solved = score_analogies(capital_vectors(capitals, capitals + offset), restrict_vocab=100)
    assert asked > 0 and solved == {"accuracy": 1.0, "questions": total, "oov_questions": total - asked}
    unrelated = score_analogies(capital_vectors(capitals, rng.normal(size=capitals.shape)), restrict_vocab=100)
    assert unrelated["accuracy"] < 0.5


def test_analogies_match_gensims_evaluate_word_analogies(tmp_path):
    """The batched 3CosAdd gives gensim's answers: the same questions asked and the same ones right."""
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(60)]
    vectors = KeyedVectors(6)
    vectors.add_vectors(words, rng.normal(size=(60, 6)).astype(np.float32))
    lines = [": section"]
    for _ in range(300):
        a, b, c, d = rng.choice(70, size=4, replace=False)  # words 60-69 are out of the vocabulary
        lines.append(" ".join(f"W{i}" if i % 3 == 0 else f"w{i}" for i in (a, b, c, d)))
    (tmp_path / "questions.txt").write_text("\n".join(lines) + "\n")
    ours = score_analogies(vectors, restrict_vocab=50, path=tmp_path / "questions.txt")
    accuracy, sections = vectors.evaluate_word_analogies(str(tmp_path / "questions.txt"), restrict_vocab=50,
                                                         case_insensitive=True)
    asked = len(sections[-1]["correct"]) + len(sections[-1]["incorrect"])
    assert 0 < len(sections[-1]["correct"]) < asked < 300
    assert ours == {"accuracy": round(accuracy, 4), "questions": 300, "oov_questions": 300 - asked}


def test_the_bootstrap_sees_the_pairs_of_the_point_estimate_when_a_benchmark_capitalises(tmp_path):
    """gensim's point estimate is case-blind; the per-pair cosines the bootstrap resamples must cover the same
    pairs (benchmark words lower-cased), or interval and estimate describe different pairs."""
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(12)]
    vectors = KeyedVectors(4)
    vectors.add_vectors(words, rng.normal(size=(12, 4)).astype(np.float32))
    lines = [f"{a.upper() if i % 2 else a}\t{b}\t{rng.uniform(0, 10):.2f}"
             for i, (a, b) in enumerate(zip(words[:10], words[2:]))]
    lines.append("W0\tunknown\t5.0")
    benchmark = PairBenchmark("capitals", tmp_path / "capitals.txt")
    benchmark.path.write_text("\n".join(lines) + "\n")
    assert all(a == a.lower() and b == b.lower() for a, b, _ in read_pairs(benchmark))
    ratings, cosines, total = pair_scores(vectors, benchmark)
    point = score_pairs(vectors, benchmark)
    assert total == point["pairs"] == 11
    assert len(ratings) == total - point["oov_pairs"] == 10
    assert round(spearmanr(ratings, cosines).statistic, 4) == point["spearman"]
