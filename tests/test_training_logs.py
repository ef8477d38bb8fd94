"""The per-epoch log rows each model's train function returns (the train stage writes them to
plots/train/MODEL.csv): every row names its model."""

from __future__ import annotations

import numpy as np
from gensim.models import KeyedVectors

from pipeline.models import devise, l2
from pipeline.models.base import GroundingData, TrainingInputs, validation_p1


def toy_inputs(seed: int = 0) -> TrainingInputs:
    """6 words, 4 images each (train, train, val, test), features a noisy linear map of the word vectors."""
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(6, 4)).astype(np.float32)
    image_word = np.repeat(np.arange(6), 4)
    features = (vectors[image_word] @ rng.normal(size=(4, 8)) + 0.1 * rng.normal(size=(24, 8))).astype(np.float32)
    split = np.array(["train", "train", "val", "test"] * 6)
    data = GroundingData(features, split, image_word.astype(np.int64), np.arange(24, dtype=np.int64))
    keyed = KeyedVectors(4)
    keyed.add_vectors([f"w{i}" for i in range(6)], vectors)
    return TrainingInputs(keyed, vectors, data, {}, np.zeros(0, np.int64), np.ones(6, np.int64))


def test_l2_logs_one_row_named_l2_with_its_validation_p1():
    inputs = toy_inputs()
    trained = l2.train(inputs, l2.L2Params(), seed=0)
    [row] = trained.log
    assert (row.model, row.epoch, trained.kept_epoch) == ("l2", 1, 1)
    expected = validation_p1(trained.projection.project(inputs.data.features), inputs.vectors.vectors, inputs.data,
                             "dot")
    assert row.val_p1 == expected


def test_devise_logs_one_row_per_epoch_named_devise():
    trained = devise.train(toy_inputs(), devise.DeviseParams(epochs=2, negatives=2), seed=0)
    assert [(row.model, row.epoch) for row in trained.log] == [("devise", 1), ("devise", 2)]


def test_iesg_active_share_is_the_share_of_all_the_epochs_hinges():
    # A margin no candidate can make up keeps every image hinge active: the share is 1 in each epoch,
    # over all of the epoch's batches (4 batches of 4 triples here).
    from pipeline.models import iesg

    inputs = toy_inputs()
    rng = np.random.default_rng(1)
    tokens = rng.integers(0, 6, 16).astype(np.int64)
    counts = np.bincount(tokens, minlength=6).astype(np.int64) + 1
    params = iesg.IESGParams(margin=1e6, negatives=2, window=1, sample=0, batch_size=4, epochs=2, init="normal")
    trained = iesg.fit(inputs.data, tokens, counts, inputs.vectors.vectors, inputs.vectors.vectors, params, seed=0)
    assert [(row.model, row.epoch) for row in trained.log] == [("iesg", 1), ("iesg", 2)]
    assert [row.active_share for row in trained.log] == [1.0, 1.0]
