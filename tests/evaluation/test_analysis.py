"""Error analysis: frequency buckets, each error type's rule on a constructed case, examples."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from gensim.models import KeyedVectors

from conftest import joined
from pipeline.evaluation.analysis import (
    bucket_labels, bucket_of, classify_errors, error_shares, examples, hypernym_distances,
    p1_by_frequency, wordnet_close,
)
from pipeline.evaluation.protocol import CandidateSets, Ranking


class FakeSynset:
    """Just what the synonym rule uses of an nltk Synset."""

    def __init__(self, name: str, parent: FakeSynset | None = None) -> None:
        self.name, self.parent = name, parent

    def hypernyms(self) -> list[FakeSynset]:
        return [self.parent] if self.parent else []

    def instance_hypernyms(self) -> list[FakeSynset]:
        return []

    def __repr__(self) -> str:
        return self.name


ROOT = FakeSynset("entity")
ANIMAL = FakeSynset("animal", ROOT)
DOG = FakeSynset("dog", ANIMAL)
HOUND = FakeSynset("hound", DOG)
BEAGLE = FakeSynset("beagle", HOUND)
CAT = FakeSynset("cat", ANIMAL)
TOOL = FakeSynset("tool", ROOT)
HAMMER = FakeSynset("hammer", TOOL)
SYNSETS = {"entity": [ROOT], "animal": [ANIMAL], "dog": [DOG], "hound": [HOUND], "beagle": [BEAGLE],
           "cat": [CAT], "tool": [TOOL], "hammer": [HAMMER], "pooch": [DOG], "wrench": [], "rareword": []}


def test_bucket_labels_and_membership():
    assert bucket_labels([100, 1000, 10000]) == ["<100", "100-1k", "1k-10k", ">=10k"]
    assert bucket_labels([50, 2500]) == ["<50", "50-2500", ">=2500"]
    counts = np.array([5, 99, 100, 999, 1000, 9999, 10000, 10**7])
    assert bucket_of(counts, [100, 1000, 10000]).tolist() == [0, 0, 1, 1, 2, 2, 3, 3]


def test_p1_by_frequency_per_bucket():
    ranks = np.array([0, 1, 0, 0, 4, 0])
    counts = np.array([10, 20, 150, 500, 700, 10**5])
    rows = p1_by_frequency(ranks, counts, [100, 1000, 10000])
    assert rows == [
        {"bucket": "<100", "p1": 0.5, "pairs": 2},
        {"bucket": "100-1k", "p1": 0.6667, "pairs": 3},
        {"bucket": "1k-10k", "p1": None, "pairs": 0},
        {"bucket": ">=10k", "p1": 1.0, "pairs": 1},
    ]


def test_synonym_rule():
    assert hypernym_distances([BEAGLE, CAT], 2) == {BEAGLE: 0, CAT: 0, HOUND: 1, ANIMAL: 1, DOG: 2, ROOT: 2}
    assert wordnet_close([DOG], [DOG], 0, 1.0)  # shared synset (pooch / dog)
    assert wordnet_close([DOG], [BEAGLE], 2, 1.0) and wordnet_close([BEAGLE], [DOG], 2, 1.0)
    assert not wordnet_close([DOG], [BEAGLE], 1, 1.0)
    assert wordnet_close([DOG], [BEAGLE], 0, 0.33)  # two links apart: path similarity 1/3
    assert not wordnet_close([DOG], [CAT], 2, 0.34)
    assert wordnet_close([DOG], [CAT], 2, 0.33)  # sister terms: path similarity 1/3
    assert not wordnet_close([DOG], [HAMMER], 2, 0.21)  # four links apart: 1/5
    assert not wordnet_close([DOG], [], 5, 0.01)


@pytest.fixture
def error_case():
    """Six test images, each of one word; the ranking puts a chosen word on top for each."""
    words = ["beagle", "cat", "dog", "hammer", "pooch", "rareword", "tool", "wrench"]
    kv = KeyedVectors(2)
    kv.add_vectors(words, np.ones((len(words), 2), np.float32))
    counts = np.array([5000, 5000, 5000, 5000, 5000, 3, 5000, 5000])
    # Features: dogs near (1, 0), hammers near (0, 1), wrenches near (0.6, 0.8).
    rows = [  # image_id, split, word, feature
        ("train-dog", "train", "dog", (1.0, 0.0)),
        ("train-hammer", "train", "hammer", (0.0, 1.0)),
        ("train-wrench", "train", "wrench", (0.6, 0.8)),
        ("train-cat", "train", "cat", (0.7, 0.7)),
        ("train-beagle", "train", "beagle", (0.9, 0.1)),
        ("train-pooch", "train", "pooch", (1.0, 0.0)),
        ("test-rare", "test", "rareword", (1.0, 0.0)),
        ("test-dog-beagle", "test", "dog", (1.0, 0.0)),
        ("test-dog-pooch", "test", "dog", (1.0, 0.0)),
        ("test-hammer-wrench", "test", "hammer", (0.5, 0.85)),
        ("test-hammer-cat", "test", "hammer", (0.3, 0.9)),
        ("test-dog-right", "test", "dog", (1.0, 0.0)),
    ]
    images = pd.DataFrame({"image_id": [r[0] for r in rows], "path": [r[0] for r in rows], "split": [r[1] for r in rows]})
    links = pd.DataFrame({"word": [r[2] for r in rows], "image_id": [r[0] for r in rows]})
    features = np.array([r[3] for r in rows], np.float32)
    data = joined(images, links, images["image_id"].tolist(), features, kv)
    index = {w: i for i, w in enumerate(data.words)}
    image_index = {i: n for n, i in enumerate(data.image_ids)}
    predicted = {"test-rare": "cat", "test-dog-beagle": "beagle", "test-dog-pooch": "pooch",
                 "test-hammer-wrench": "wrench", "test-hammer-cat": "cat", "test-dog-right": "dog"}
    queries = np.array([image_index[i] for i in predicted])
    truth = data.pair_word[np.searchsorted(data.pair_image, queries)]
    top1 = np.array([index[w] for w in predicted.values()])
    sets = CandidateSets(queries, np.stack([truth, top1], axis=1))
    ranking = Ranking((top1 != truth).astype(int), top1)
    return data, sets, ranking, counts


def test_each_error_type_rule(error_case):
    data, sets, ranking, counts = error_case
    errors = classify_errors(data, sets, ranking, counts, SYNSETS.__getitem__, 100, 2, 0.5)
    kinds = {e["image_id"]: e["type"] for e in errors}
    assert kinds == {
        "test-rare": "sparsity",  # rare true word, though cat is unrelated
        "test-dog-beagle": "synonym",  # beagle is two hyponym links below dog
        "test-dog-pooch": "synonym",  # shares dog's synset
        "test-hammer-wrench": "confusion",  # wrench has no synsets; its mean image is closer
        "test-hammer-cat": "other",  # cat's mean (0.7, 0.7) is farther from (0.3, 0.9) than hammer's (0, 1)
    }
    shares = error_shares(errors)
    assert shares == {"sparsity": 0.2, "synonym": 0.4, "confusion": 0.2, "other": 0.2, "errors": 5}


def test_stricter_thresholds_move_errors_down_the_precedence(error_case):
    data, sets, ranking, counts = error_case
    errors = classify_errors(data, sets, ranking, counts, SYNSETS.__getitem__, 1, 0, 1.0)
    kinds = {e["image_id"]: e["type"] for e in errors}
    assert kinds["test-rare"] != "sparsity"
    assert kinds["test-dog-beagle"] == "other"  # dog's mean (1, 0) is closer than beagle's (0.9, 0.1)
    assert kinds["test-dog-pooch"] == "synonym"


def test_examples_are_seeded_and_mark_linked_results(error_case):
    data, *_ = error_case
    rng = np.random.default_rng(0)
    images, words = rng.standard_normal((len(data.image_ids), 3)), rng.standard_normal((len(data.words), 3))
    first = examples(data, images, words, n_examples=3, top=2, seed=4)
    assert first == examples(data, images, words, n_examples=3, top=2, seed=4)
    assert len(first["image_to_word"]) == 3 and len(first["word_to_image"]) == 3
    for ex in first["image_to_word"]:
        assert ex["image_id"].startswith("test-") and len(ex["top"]) == 2
        assert all(t["correct"] == (t["word"] in ex["truth"]) for t in ex["top"])
        assert ex["top"][0]["score"] >= ex["top"][1]["score"]
    for ex in first["word_to_image"]:
        assert all(t["image_id"].startswith("test-") for t in ex["top"])
