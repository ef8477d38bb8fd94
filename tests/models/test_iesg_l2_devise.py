"""IESG, L2 and DeViSE: losses on hand-computed numbers, optimisation, sampling, a tiny end-to-end fit."""

from __future__ import annotations

import zipfile
from dataclasses import replace

import numpy as np
import pytest
import torch

from gensim.models import KeyedVectors

from pipeline.artifacts.model_dir import read_projection, write_projection
from pipeline.models import devise, iesg
from pipeline.models.base import EarlyStopping, GroundingData, Projection, TrainingInputs, validation_p1
from pipeline.models.corpus_sampling import keep_probability
from pipeline.models.params import DeviseParams
from pipeline.models.iesg import CorpusWindows, SparseMomentum, hinge_loss
from pipeline.models.params import PAPER_IESG, IESGParams
from pipeline.models.params import L2Params
from pipeline.models.l2 import fit as train_l2


def train_iesg(data, tokens, counts, input_vectors, output_vectors, params, seed):
    """``iesg.fit`` as (projection, word vectors it pairs with, log): the input vectors when it keeps them frozen."""
    trained = iesg.fit(data, tokens, counts, input_vectors, output_vectors, params, seed)
    assert (trained.word_vectors is None) == (trained.projection.words == "pretrained") == (not params.update_words)
    words = input_vectors if trained.word_vectors is None else trained.word_vectors
    return trained.projection, words, trained.log


def train_devise(data, vectors, params, seed):
    """The registry's DeViSE entry on toy data: (projection, log)."""
    keyed = KeyedVectors(vectors.shape[1])
    keyed.add_vectors([f"w{i}" for i in range(len(vectors))], vectors)
    inputs = TrainingInputs(keyed, vectors, data, {}, np.zeros(0, np.int64), np.ones(len(vectors), np.int64))
    trained = devise.train(inputs, params, seed)
    return trained.projection, trained.log

# One epoch of a few batches with plain SGD steps, so that a hand-run can follow it exactly.
HAND_RUN = IESGParams(lam=2.0, margin=1.0, negatives=3, energy="dot", context_vectors="output", update_words=True,
                      window=2, sample=0, max_triples_per_epoch=64, lr=0.05, momentum=0.0, batch_size=16,
                      weight_decay=0.01, epochs=1, patience=0, init="l2", normalize_features=True,
                      center_features=True)


def test_hinge_loss_matches_hand_computed_values():
    anchor = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    positive = torch.tensor([[0.5, 0.0], [0.0, 1.0]])
    negatives = torch.tensor([[[1.0, 1.0], [0.0, 3.0]], [[0.0, -1.0], [1.0, 0.0]]])
    loss, active = hinge_loss(anchor, positive, negatives, lam=2.0, margin=1.5, kind="dot")
    # Row 0: E(a,p) = 0.5; negatives 1.0 and 0.0 -> 1.5 - 1 + 1 = 1.5 and 1.5 - 1 + 0 = 0.5.
    # Row 1: E(a,p) = 2.0; negatives -2.0 and 0.0 -> 1.5 - 4 - 2 < 0 and 1.5 - 4 + 0 < 0.
    assert loss.tolist() == pytest.approx([1.0, 0.0])
    assert active.tolist() == [[True, True], [False, False]]


def test_cosine_energy_ignores_scale():
    anchor = torch.tensor([[3.0, 4.0]])
    positive = torch.tensor([[6.0, 8.0]])
    negatives = torch.tensor([[[-4.0, 3.0]]])
    loss, _ = hinge_loss(anchor, positive, negatives, lam=5.0, margin=1.0, kind="cos")
    # cos(a, p) = 1, cos(a, n) = 0 -> max(0, 1 - 5 + 0) = 0; scaled inputs give the same.
    scaled, _ = hinge_loss(anchor * 10, positive, negatives, lam=5.0, margin=1.0, kind="cos")
    assert float(loss) == float(scaled) == 0.0


def test_sparse_momentum_moves_only_touched_rows_and_sums_duplicates():
    matrix = torch.zeros(4, 2)
    update = SparseMomentum(matrix, lr=0.5, momentum=0.9)
    update.step(torch.tensor([1, 1, 3]), torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 2.0]]))
    assert matrix.tolist() == [[0, 0], [-1.0, 0], [0, 0], [0, -1.0]]
    update.step(torch.tensor([1]), torch.tensor([[0.0, 0.0]]))
    # The momentum of row 1 (buffer 2.0) carries it on; row 3 is untouched and keeps its value.
    assert matrix[1].tolist() == pytest.approx([-1.0 - 0.5 * 1.8, 0.0])
    assert matrix[3].tolist() == [0, -1.0]


def test_l2_baseline_recovers_an_exact_linear_map():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(30, 5)).astype(np.float32)
    true_map = rng.normal(size=(5, 3))
    word_vectors = (features @ true_map).astype(np.float32)
    data = GroundingData(features, np.array(["train"] * 30), np.arange(30), np.arange(30))
    fitted = train_l2(data, word_vectors, L2Params(ridge=0.0, normalize_features=False, center_features=False))
    assert fitted.projection == pytest.approx(true_map, abs=1e-4)


def test_l2_baseline_prepares_features_as_iesg_does():
    rng = np.random.default_rng(0)
    features = (rng.normal(size=(40, 6)) * rng.uniform(1, 20, size=(40, 1)) + 5.0).astype(np.float32)
    data = GroundingData(features, np.array(["train"] * 40), np.arange(40), np.arange(40))
    unit = features / np.linalg.norm(features, axis=1, keepdims=True)
    true_map = rng.normal(size=(6, 3))
    word_vectors = ((unit - unit.mean(0)) @ true_map).astype(np.float32)
    fitted = train_l2(data, word_vectors, L2Params(ridge=0.0, normalize_features=True, center_features=True))
    assert fitted.normalize_features and fitted.center == pytest.approx(unit.mean(0), abs=1e-6)
    assert fitted.project(features) == pytest.approx(word_vectors, abs=1e-3)
    # The ridge is relative to the feature scale: scaling every feature leaves the raw fit unchanged.
    raw = train_l2(data, word_vectors, L2Params(ridge=0.1, normalize_features=False, center_features=False))
    scaled = train_l2(GroundingData(features * 100, data.split, data.link_words, data.link_images),
                      word_vectors, L2Params(ridge=0.1, normalize_features=False, center_features=False))
    assert scaled.project(features * 100) == pytest.approx(raw.project(features), rel=1e-3, abs=1e-4)


def test_saved_projection_is_byte_identical_and_loads_back(tmp_path):
    projection = Projection(np.arange(6, dtype=np.float32).reshape(3, 2), np.ones(3, np.float32), True, "own")
    write_projection(tmp_path / "a.npz", projection)
    write_projection(tmp_path / "b.npz", projection)
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    # np.savez stores each member's write time (2 s resolution), so two saves could differ.
    with zipfile.ZipFile(tmp_path / "a.npz") as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    with np.load(tmp_path / "a.npz", allow_pickle=False) as saved:
        assert saved["projection"].tolist() == projection.projection.tolist()
        assert bool(saved["normalize_features"]) and str(saved["words"]) == "own"
    loaded = read_projection(tmp_path / "a.npz", 3, 2)
    assert (loaded.projection.tolist(), loaded.center.tolist(), loaded.normalize_features, loaded.words) == (
        projection.projection.tolist(), projection.center.tolist(), True, "own")


def toy_world(seed: int = 0, concepts: int = 20, dim: int = 16, feature_dim: int = 24):
    """Concept words whose images are a fixed linear function of the word's vector, and a corpus
    in which each concept word is surrounded by two 'friend' words with similar vectors."""
    rng = np.random.default_rng(seed)
    concept_vectors = rng.normal(size=(concepts, dim))
    friends = np.concatenate([concept_vectors + 0.3 * rng.normal(size=concept_vectors.shape) for _ in range(2)])
    fillers = rng.normal(size=(20, dim))
    vectors = np.concatenate([concept_vectors, friends, fillers]).astype(np.float32)
    vocabulary = len(vectors)
    mixing = rng.normal(size=(dim, feature_dim))
    per_concept = 6
    image_concept = np.repeat(np.arange(concepts), per_concept)
    features = (concept_vectors[image_concept] @ mixing + 0.3 * rng.normal(size=(len(image_concept), feature_dim)))
    split = np.array((["train"] * 4 + ["val", "test"]) * concepts)
    tokens = []
    for _ in range(3000):
        concept = rng.integers(concepts)
        friend = lambda: concept + concepts * (1 + rng.integers(2))  # noqa: E731
        tokens += [friend(), friend(), concept, friend(), rng.integers(3 * concepts, vocabulary)]
    tokens = np.array(tokens, dtype=np.int64)
    counts = np.bincount(tokens, minlength=vocabulary).astype(np.int64) + 1
    data = GroundingData(features.astype(np.float32), split, image_concept.astype(np.int64),
                         np.arange(len(image_concept), dtype=np.int64))
    return data, tokens, counts, vectors


def test_corpus_windows_draw_valid_triples():
    data, tokens, counts, _ = toy_world()
    params = replace(PAPER_IESG, window=2, negatives=3, sample=0)
    triples = CorpusWindows(tokens, counts, data).draw(np.random.default_rng(0), params)
    train_words, train_images = data.links_in("train")
    allowed = set(zip(train_words.tolist(), train_images.tolist()))
    assert all((c, i) in allowed for c, i in zip(triples["centre"], triples["image"]))
    assert triples["negatives"].shape == (len(triples["centre"]), 3)
    assert len(triples["centre"]) == np.isin(tokens, train_words).sum()  # one triple per centre
    assert set(np.unique(triples["centre"])) <= set(train_words.tolist())


def test_down_sampling_thins_frequent_words_in_centres_and_contexts():
    data, tokens, counts, _ = toy_world()
    windows = CorpusWindows(tokens, counts, data)
    full = windows.draw(np.random.default_rng(0), replace(PAPER_IESG, sample=0))
    thinned = windows.draw(np.random.default_rng(0), replace(PAPER_IESG, sample=1e-3))
    assert len(thinned["centre"]) < len(full["centre"])
    keep = keep_probability(counts, 1e-3)
    assert keep.max() <= 1.0 and keep[np.argmax(counts)] == keep.min()


def test_iesg_learns_a_grounding_that_beats_a_random_projection():
    data, tokens, counts, vectors = toy_world()
    params = replace(PAPER_IESG, epochs=3, lam=1.0, margin=1.0, energy="cos", negatives=5, sample=0, window=2,
                        batch_size=16)
    projection, updated, log = train_iesg(data, tokens, counts, vectors, vectors, params, seed=0)
    learned = validation_p1(projection.project(data.features), updated, data, "cos", split="test")
    rng = np.random.default_rng(1)
    random_projection = Projection(rng.normal(size=projection.projection.shape).astype(np.float32),
                                   np.zeros(data.features.shape[1], dtype=np.float32))
    chance = validation_p1(random_projection.project(data.features), vectors, data, "cos", split="test")
    assert learned >= 0.6 and learned > chance + 0.4
    assert [entry.epoch for entry in log] == [1, 2, 3]
    assert log[-1].loss < log[0].loss


def test_iesg_is_deterministic_for_a_seed():
    data, tokens, counts, vectors = toy_world()
    params = replace(PAPER_IESG, epochs=1, sample=0, max_triples_per_epoch=500)
    first = train_iesg(data, tokens, counts, vectors, vectors, params, seed=3)
    second = train_iesg(data, tokens, counts, vectors, vectors, params, seed=3)
    assert np.array_equal(first[0].projection, second[0].projection)
    assert np.array_equal(first[1], second[1])


def test_early_stopping_stops_after_patience_epochs_and_keeps_the_best_epoch():
    data, tokens, counts, vectors = toy_world()
    # The paper's lambda 5 from the L2 start: val P@1 rises, then falls as the projection inflates.
    params = replace(PAPER_IESG, epochs=6, patience=2, lam=5.0, negatives=1, init="l2", sample=0, window=2)
    projection, words, log = train_iesg(data, tokens, counts, vectors, vectors, params, seed=0)
    scores = [entry.val_p1 for entry in log]
    best = int(np.argmax(scores))
    assert len(log) == best + 1 + params.patience < params.epochs  # stopped early, after `patience` worse epochs
    assert validation_p1(projection.project(data.features), words, data, "dot") == scores[best] > scores[-1]


def test_devise_baseline_learns_the_toy_grounding():
    data, _, _, vectors = toy_world()
    projection, log = train_devise(data, vectors, DeviseParams(epochs=5, negatives=5), seed=0)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    assert validation_p1(projection.project(data.features), unit, data, "dot", split="test") >= 0.6


def test_paper_setting_overrides_the_tuned_values():
    effective = replace(PAPER_IESG, setting="paper", energy="cos", lam=1.0, epochs=7).effective()
    assert (effective.energy, effective.lam, effective.epochs) == ("dot", 5.0, 7)
    tuned = replace(PAPER_IESG, energy="cos", lam=1.0, epochs=7)
    assert tuned.effective() is tuned


def test_paper_setting_keeps_the_run_length_and_down_sampling_asked_for():
    asked = replace(PAPER_IESG, setting="paper", epochs=7, patience=3, sample=1e-4, max_triples_per_epoch=500)
    effective = asked.effective()
    assert (effective.epochs, effective.patience, effective.sample, effective.max_triples_per_epoch) == (7, 3, 1e-4, 500)
    assert (PAPER_IESG.patience, PAPER_IESG.sample) != (3, 1e-4)


def test_early_stopping_without_validation_runs_every_epoch_and_keeps_the_last():
    # Without validation images every score is nan: no epoch can be chosen, so none is cut short.
    stopper = EarlyStopping(patience=2)
    for epoch, state in enumerate(["first", "second", "third", "fourth"], start=1):
        assert not stopper.update(epoch, float("nan"), state)
    assert (stopper.best_epoch, stopper.best_state) == (4, "fourth")


def test_early_stopping_keeps_the_best_epoch_and_stops_when_patience_runs_out():
    stopper = EarlyStopping(patience=2)
    assert not stopper.update(1, 0.2, "first")
    assert not stopper.update(2, 0.5, "second")
    assert not stopper.update(3, 0.5, "third")
    assert stopper.update(4, 0.1, "fourth")
    assert (stopper.best_epoch, stopper.best_state, stopper.best_score) == (2, "second", 0.5)


def dot_hinge_gradients(anchor: np.ndarray, candidates: np.ndarray, lam: float, margin: float):
    """Gradients of mean_rows(mean_k max(0, m - lam a.p + a.n_k)) with respect to the anchors (n, d) and to the
    candidates (n, 1 + k, d): column 0 the positive, the others the negatives."""
    positive, negatives = candidates[:, 0], candidates[:, 1:]
    raw = margin - lam * (anchor * positive).sum(1, keepdims=True) + np.einsum("nd,nkd->nk", anchor, negatives)
    active = (raw > 0).astype(np.float64) / raw.size
    grad_anchor = np.einsum("nk,nkd->nd", active, negatives) - lam * active.sum(1, keepdims=True) * positive
    grad_candidates = np.empty_like(candidates)
    grad_candidates[:, 0] = -lam * active.sum(1, keepdims=True) * anchor
    grad_candidates[:, 1:] = active[:, :, None] * anchor[:, None, :]
    return grad_anchor, grad_candidates


def iesg_by_hand(data, tokens, counts, input_vectors, output_vectors, params: IESGParams, seed: int):
    """IESG in plain numpy for momentum 0 and the dot energy: per batch, a step on the word hinge (centre and
    context vectors), then a step on the image hinge (projection and context vectors)."""
    assert params.momentum == 0 and params.energy == "dot" and params.init == "l2" and params.patience == 0
    features = data.features.astype(np.float64)
    if params.normalize_features:
        features = features / np.linalg.norm(features, axis=1, keepdims=True)
    if params.center_features:
        features = features - features[data.split == "train"].mean(0)
    start = train_l2(data, input_vectors, L2Params(L2Params.ridge, params.normalize_features, params.center_features))
    projection = start.projection.astype(np.float64)
    words = input_vectors.astype(np.float64)
    contexts = words if params.context_vectors == "input" else output_vectors.astype(np.float64)
    rng = np.random.default_rng(seed)
    for _ in range(params.epochs):
        triples = CorpusWindows(tokens, counts, data).draw(rng, params)
        for first in range(0, len(triples["centre"]), params.batch_size):
            batch = {name: values[first:first + params.batch_size] for name, values in triples.items()}
            rows = np.column_stack([batch["context"], batch["negatives"]])
            if params.update_words:
                grad_centre, grad_rows = dot_hinge_gradients(words[batch["centre"]], contexts[rows],
                                                             params.lam, params.margin)
                np.subtract.at(words, batch["centre"], params.lr * grad_centre)
                np.subtract.at(contexts, rows.ravel(), params.lr * grad_rows.reshape(-1, words.shape[1]))
            image_features = features[batch["image"]]
            grad_images, grad_rows = dot_hinge_gradients(image_features @ projection, contexts[rows],
                                                         params.lam, params.margin)
            projection -= params.lr * (image_features.T @ grad_images + params.weight_decay * projection)
            if params.update_words:
                np.subtract.at(contexts, rows.ravel(), params.lr * grad_rows.reshape(-1, words.shape[1]))
    return start.projection, projection, words


@pytest.mark.parametrize("context_vectors", ["input", "output"])
def test_iesg_follows_a_hand_run_of_its_two_hinges(context_vectors):
    data, tokens, counts, vectors = toy_world()
    output_vectors = np.random.default_rng(5).normal(size=vectors.shape).astype(np.float32)
    params = replace(HAND_RUN, context_vectors=context_vectors)
    projection, words, _ = train_iesg(data, tokens, counts, vectors, output_vectors, params, seed=0)
    start, expected_projection, expected_words = iesg_by_hand(data, tokens, counts, vectors, output_vectors,
                                                              params, seed=0)
    assert not np.allclose(expected_projection, start, atol=1e-3)  # the hand-run moved: the comparison means something
    assert not np.allclose(expected_words, vectors, atol=1e-3)
    np.testing.assert_allclose(projection.projection, expected_projection, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(words, expected_words, rtol=1e-4, atol=1e-5)
    # The saved projection prepares features as it was trained: unit norm, minus the training mean.
    unit = data.features / np.linalg.norm(data.features, axis=1, keepdims=True)
    np.testing.assert_allclose(projection.project(data.features),
                               (unit - unit[data.split == "train"].mean(0)) @ expected_projection, rtol=1e-4, atol=1e-5)


def test_context_vectors_output_trains_against_the_output_vectors():
    data, tokens, counts, vectors = toy_world()
    output_vectors = np.random.default_rng(5).normal(size=vectors.shape).astype(np.float32)
    runs = {side: train_iesg(data, tokens, counts, vectors, output_vectors,
                             replace(HAND_RUN, context_vectors=side), seed=0) for side in ("input", "output")}
    assert not np.allclose(runs["input"][0].projection, runs["output"][0].projection, atol=1e-3)
    assert not np.allclose(runs["input"][1], runs["output"][1], atol=1e-3)


def test_frozen_words_come_back_unchanged_while_the_projection_trains():
    data, tokens, counts, vectors = toy_world()
    params = replace(HAND_RUN, update_words=False, momentum=0.9, max_triples_per_epoch=200)
    projection, words, _ = train_iesg(data, tokens, counts, vectors, vectors, params, seed=0)
    assert np.array_equal(words, vectors)
    start = train_l2(data, vectors, L2Params(L2Params.ridge, True, True))
    assert not np.allclose(projection.projection, start.projection, atol=1e-3)
    _, learned, _ = train_iesg(data, tokens, counts, vectors, vectors, replace(params, update_words=True), seed=0)
    assert not np.allclose(learned, vectors, atol=1e-3)


def test_weight_decay_shrinks_the_projection():
    data, tokens, counts, vectors = toy_world()
    params = replace(HAND_RUN, momentum=0.9, max_triples_per_epoch=400, weight_decay=0.0)
    norms = [np.linalg.norm(train_iesg(data, tokens, counts, vectors, vectors, replace(params, weight_decay=decay),
                                       seed=0)[0].projection) for decay in (0.0, 0.1)]
    assert norms[1] < 0.9 * norms[0]


def test_normalized_features_make_iesg_blind_to_each_image_feature_scale():
    data, tokens, counts, vectors = toy_world()
    scales = np.random.default_rng(2).uniform(0.2, 5.0, size=(len(data.features), 1)).astype(np.float32)
    rescaled = GroundingData(data.features * scales, data.split, data.link_words, data.link_images)
    params = replace(HAND_RUN, momentum=0.9, max_triples_per_epoch=200)
    for normalize in (True, False):
        first = train_iesg(data, tokens, counts, vectors, vectors, replace(params, normalize_features=normalize), 0)
        second = train_iesg(rescaled, tokens, counts, vectors, vectors,
                            replace(params, normalize_features=normalize), 0)
        same = np.allclose(first[0].projection, second[0].projection, rtol=1e-4, atol=1e-5) and np.allclose(
            first[1], second[1], rtol=1e-4, atol=1e-5)
        assert same == normalize


def test_devise_never_hinges_a_negative_that_is_linked_to_the_image():
    # Every mapped word is linked to every image: each sampled negative is a linked word, so no hinge counts.
    rng = np.random.default_rng(0)
    features = rng.normal(size=(6, 5)).astype(np.float32)
    words, images = np.meshgrid(np.arange(3), np.arange(6))
    data = GroundingData(features, np.array(["train"] * 4 + ["val", "test"]), words.ravel(), images.ravel())
    vectors = rng.normal(size=(3, 4)).astype(np.float32)
    short, log = train_devise(data, vectors, DeviseParams(epochs=1, negatives=4), seed=0)
    longer, log = train_devise(data, vectors, DeviseParams(epochs=3, negatives=4), seed=0)
    assert [(entry.loss, entry.active_share) for entry in log] == [(0.0, 0.0)] * 3
    assert np.array_equal(short.projection, longer.projection)


def test_each_centre_draws_its_own_context_offset_within_the_window():
    # Word 0 (linked to a training image) every 10th token from the 6th, unique filler words between: a triple's
    # context word tells the offset it was drawn at.
    centres = 60
    tokens = np.zeros(10 * centres, dtype=np.int64)
    fillers = np.arange(10 * centres) % 10 != 5
    tokens[fillers] = 1 + np.arange(fillers.sum())
    counts = np.bincount(tokens).astype(np.int64)
    data = GroundingData(np.zeros((1, 2), np.float32), np.array(["train"]), np.array([0]), np.array([0]))
    triples = CorpusWindows(tokens, counts, data).draw(np.random.default_rng(0),
                                                       replace(PAPER_IESG, window=3, negatives=1, sample=0))
    position = {int(token): index for index, token in enumerate(tokens) if token}
    centre_positions = np.flatnonzero(tokens == 0)
    assert (triples["centre"] == 0).all() and len(triples["centre"]) == centres  # none falls off the stream
    offsets = [position[int(c)] - min(centre_positions, key=lambda p: abs(p - position[int(c)]))
               for c in triples["context"]]
    assert set(offsets) == {-3, -2, -1, 1, 2, 3}


def test_negative_words_follow_the_unigram_to_the_three_quarters():
    """IESG's negatives are word2vec's noise words: P(w) proportional to count(w)^0.75 (not uniform, not the raw
    unigram), whatever the token stream."""
    counts = np.array([1, 10000, 1000, 100, 10], dtype=np.int64)
    tokens = np.tile(np.arange(5), 2000)  # word 0, the one with a training image, 2,000 times
    data = GroundingData(np.zeros((1, 2), np.float32), np.array(["train"]), np.array([0]), np.array([0]))
    triples = CorpusWindows(tokens, counts, data).draw(np.random.default_rng(0),
                                                       replace(PAPER_IESG, window=1, negatives=50, sample=0))
    noise = triples["negatives"]
    expected = counts ** 0.75 / (counts ** 0.75).sum()
    observed = np.bincount(noise.ravel(), minlength=len(counts)) / noise.size
    assert noise.size > 90000
    assert np.abs(observed - expected).max() < 0.006, (observed, expected)
