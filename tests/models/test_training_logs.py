"""The per-epoch log each model's train function returns and hands to ``on_epoch`` as each epoch ends,
and the dvclive log the train stage writes from it (dvclive/MODEL)."""

from __future__ import annotations

import json
import logging
from dataclasses import replace

import numpy as np
from gensim.models import KeyedVectors

from pipeline.models import devise, l2
from pipeline.models.base import EpochLog, GroundingData, TrainingInputs, validation_p1
from pipeline.artifacts.training_log import TrainingLog
from pipeline.models.params import PAPER_IESG


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


def test_l2_logs_one_row_with_its_validation_p1():
    inputs = toy_inputs()
    trained = l2.train(inputs, l2.L2Params(normalize_features=False, center_features=False), seed=0)
    [row] = trained.log
    assert (row.epoch, trained.kept_epoch) == (1, 1)
    expected = validation_p1(trained.projection.project(inputs.data.features), inputs.vectors.vectors, inputs.data,
                             "dot")
    assert row.val_p1 == expected


def test_devise_logs_one_row_per_epoch():
    trained = devise.train(toy_inputs(), devise.DeviseParams(epochs=2, negatives=2), seed=0)
    assert [row.epoch for row in trained.log] == [1, 2]


def test_iesg_active_share_is_the_share_of_all_the_epochs_hinges():
    # A margin no candidate can make up keeps every image hinge active: the share is 1 in each epoch,
    # over all of the epoch's batches (4 batches of 4 triples here).
    from pipeline.models import iesg

    inputs = toy_inputs()
    rng = np.random.default_rng(1)
    tokens = rng.integers(0, 6, 16).astype(np.int64)
    counts = np.bincount(tokens, minlength=6).astype(np.int64) + 1
    params = replace(PAPER_IESG, margin=1e6, negatives=2, window=1, sample=0, batch_size=4, epochs=2, init="normal")
    trained = iesg.fit(inputs.data, tokens, counts, inputs.vectors.vectors, inputs.vectors.vectors, params, seed=0)
    assert [row.epoch for row in trained.log] == [1, 2]
    assert [row.active_share for row in trained.log] == [1.0, 1.0]


def test_each_epoch_reaches_on_epoch_as_it_ends():
    seen: list[tuple[int, int]] = []
    trained = devise.train(toy_inputs(), devise.DeviseParams(epochs=3, negatives=2), seed=0,
                           on_epoch=lambda entry: seen.append((entry.epoch, len(seen))))
    assert seen == [(1, 0), (2, 1), (3, 2)] and len(trained.log) == 3


def write_log(directory, entries, kept):
    live = TrainingLog(directory)
    for entry in entries:
        live(entry)
    live.finish(kept)


EPOCHS = [EpochLog(1, 1.23456, 0.5, 0.25), EpochLog(2, 0.5, 0.125, 0.75),
          EpochLog(3, 0.25, 0.0625, 0.5)]


def test_dvclive_log_has_a_row_per_epoch_and_the_kept_epoch_as_summary(tmp_path):
    write_log(tmp_path / "live", EPOCHS, kept=EPOCHS[1])
    metrics = tmp_path / "live" / "plots" / "metrics"
    assert (metrics / "val_p1.tsv").read_text() == "step\tval_p1\n1\t0.25\n2\t0.75\n3\t0.5\n"
    assert (metrics / "loss.tsv").read_text() == "step\tloss\n1\t1.2346\n2\t0.5\n3\t0.25\n"
    assert sorted(p.name for p in metrics.iterdir()) == ["active_share.tsv", "loss.tsv", "val_p1.tsv"]
    summary = json.loads((tmp_path / "live" / "metrics.json").read_text())
    assert summary == {"loss": 0.5, "active_share": 0.125, "val_p1": 0.75, "step": 2}
    # dvclive writes no dvc.yaml or report of its own: the project's dvc.yaml declares what DVC shows.
    assert sorted(p.name for p in (tmp_path / "live").iterdir()) == ["metrics.json", "plots"]


def test_a_metric_a_model_does_not_have_is_not_logged(tmp_path):
    l2_epoch = EpochLog(1, float("nan"), float("nan"), 0.4)
    write_log(tmp_path / "live", [l2_epoch], kept=l2_epoch)
    assert sorted(p.name for p in (tmp_path / "live" / "plots" / "metrics").iterdir()) == ["val_p1.tsv"]
    assert json.loads((tmp_path / "live" / "metrics.json").read_text()) == {"val_p1": 0.4, "step": 1}


def test_the_same_epochs_write_the_same_bytes_and_replace_an_earlier_log(tmp_path):
    write_log(tmp_path / "first", EPOCHS, kept=EPOCHS[2])
    write_log(tmp_path / "second", EPOCHS[:1], kept=EPOCHS[0])
    write_log(tmp_path / "second", EPOCHS, kept=EPOCHS[2])

    def files(root):
        return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}

    assert files(tmp_path / "first") == files(tmp_path / "second")


def test_the_log_saves_no_dvc_experiment_of_its_own(tmp_path, monkeypatch, caplog):
    # The run is a pipeline stage: dvclive must not try `dvc exp save` (outside a Git repo it warns that it cannot).
    monkeypatch.chdir(tmp_path)
    with caplog.at_level(logging.WARNING, logger="dvclive"):
        write_log(tmp_path / "live", EPOCHS, kept=EPOCHS[1])
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
