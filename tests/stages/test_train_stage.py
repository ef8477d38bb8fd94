"""The train stage end to end on tiny files written in the test."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from gensim.models import Word2Vec

from conftest import PAPER_IESG_KEYS, load_grounded_vectors, load_model_file
from pipeline.artifacts.layout import LIVE_PLOTS, LIVE_SUMMARY
from pipeline.artifacts.model_dir import learnt_vectors_path, read_train_summary
from pipeline.artifacts.vectors import read_pretrained, write_word2vec
from pipeline.artifacts.training_inputs import load_training_inputs
from pipeline.models import devise, iesg, l2
from pipeline.models.base import Projection, unit_rows, validation_p1
from pipeline.models.registry import load_train_config

REPO = Path(__file__).resolve().parents[2]
NOUNS = [f"noun{i}" for i in range(8)]
MODELS = ("l2", "devise", "iesg")


@pytest.fixture
def stage_inputs(tmp_path: Path) -> Path:
    rng = random.Random(0)
    fillers = [f"w{i}" for i in range(30)]
    lines = [" ".join(rng.choice(NOUNS + fillers) for _ in range(200)) for _ in range(50)]
    (tmp_path / "text.txt").write_text("\n".join(lines) + "\n")
    model = Word2Vec(corpus_file=str(tmp_path / "text.txt"), vector_size=8, min_count=1, sg=1,
                     epochs=1, workers=1, seed=0)
    write_word2vec(tmp_path / "w2v", model)

    np_rng = np.random.default_rng(0)
    image_ids = [f"img{i}" for i in range(len(NOUNS) * 4)]
    splits = ["train", "train", "val", "test"] * len(NOUNS)
    words = [NOUNS[i // 4] for i in range(len(image_ids))]
    pd.DataFrame({"image_id": image_ids, "path": [f"{i}.jpg" for i in image_ids], "wnid": "n00000000",
                  "source": "test", "split": splits}).to_csv(tmp_path / "images.csv", index=False)
    # a link to an image featurize skipped (not in features.h5) is dropped and counted
    pd.DataFrame({"word": words + ["noun0"], "image_id": image_ids + ["skipped"]}).to_csv(
        tmp_path / "links.csv", index=False)
    features = np.stack([model.wv[w] for w in words]) @ np_rng.normal(size=(8, 12))
    with h5py.File(tmp_path / "features.h5", "w") as handle:
        handle["features"] = features.astype(np.float32)
        handle["image_ids"] = np.array(image_ids, dtype=h5py.string_dtype())
    (tmp_path / "params.yaml").write_text(
        "train:\n  seed: 0\n  models: [l2, devise, iesg]\n  l2: {normalize_features: false, center_features: false}\n"
        f"  iesg: {{epochs: 2, batch_size: 4, {PAPER_IESG_KEYS}}}\n"
        "  devise: {epochs: 2}\n")
    return tmp_path


def run_train(root: Path, model: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "stages/train.py"), "--model", model, "--corpus", str(root / "text.txt"),
         "--word2vec", str(root / "w2v"), "--images", str(root / "images.csv"),
         "--links", str(root / "links.csv"), "--features", str(root / "features.h5"),
         "--out", str(root / "models" / model), "--live-dir", str(root / "live" / model),
         "--params", str(root / "params.yaml")],
        capture_output=True, text=True,
    )


def train_all(root: Path) -> None:
    for model in MODELS:
        result = run_train(root, model)
        assert result.returncode == 0, result.stderr[-2000:]


def training_inputs(root: Path, text: bool = True):
    return load_training_inputs(root / "text.txt", root / "w2v", root / "images.csv", root / "links.csv",
                                root / "features.h5", text=text)


def test_without_text_the_corpus_arrays_are_empty_and_typed(stage_inputs):
    inputs = training_inputs(stage_inputs, text=False)
    assert inputs.output_vectors.shape == (0, inputs.vectors.vector_size)
    assert inputs.output_vectors.dtype == np.float32
    assert inputs.tokens.shape == (0,) and inputs.tokens.dtype == np.int64
    assert len(inputs.data.features) > 0


def test_saved_models_are_the_trained_ones_and_reproduce_the_metrics(stage_inputs):
    train_all(stage_inputs)
    inputs = training_inputs(stage_inputs)
    config = load_train_config(str(stage_inputs / "params.yaml"))
    pretrained, data = inputs.vectors.vectors, inputs.data
    expected = {"l2": l2.train(inputs, config.sections["l2"], config.seed),
                "iesg": iesg.train(inputs, config.sections["iesg"], config.seed),
                "devise": devise.train(inputs, config.sections["devise"], config.seed)}
    models = stage_inputs / "models"
    grounded = load_grounded_vectors(models)
    np.testing.assert_allclose(grounded.vectors, expected["iesg"].word_vectors, rtol=1e-5, atol=1e-6)
    assert not np.allclose(grounded.vectors, pretrained, atol=1e-3)
    assert not any(learnt_vectors_path(models / name).exists() for name in ("l2", "devise"))

    saved = {}
    for name, trained in expected.items():
        projection, center, normalize, paired_with = load_model_file(models, name)
        saved[name] = Projection(projection, center, normalize, paired_with)
        np.testing.assert_allclose(projection, trained.projection.projection, rtol=1e-5, atol=1e-6, err_msg=name)
        np.testing.assert_allclose(center, trained.projection.center, rtol=1e-5, atol=1e-6, err_msg=name)
        assert (normalize, paired_with) == (trained.projection.normalize_features, trained.projection.words), name
    assert not np.allclose(saved["iesg"].projection, saved["l2"].projection, atol=1e-3)

    scored_against = {"l2": (pretrained, "dot"), "devise": (unit_rows(pretrained), "dot"),
                      "iesg": (grounded.vectors, config.sections["iesg"].effective().energy)}
    for name, (words, energy) in scored_against.items():
        summary = read_train_summary(models / name)
        assert summary["val_p1"] == round(validation_p1(saved[name].project(data.features), words, data, energy),
                                          4), name
        log = pd.read_csv(stage_inputs / "live" / name / LIVE_PLOTS / "metrics" / "val_p1.tsv", sep="\t")
        assert summary["val_p1"] == log.loc[log["step"] == summary["kept_epoch"], "val_p1"].item(), name
        live_summary = json.loads((stage_inputs / "live" / name / LIVE_SUMMARY).read_text())
        assert (live_summary["val_p1"], live_summary["step"]) == (summary["val_p1"], summary["kept_epoch"]), name


def test_train_writes_models_grounded_vectors_log_and_summary(stage_inputs):
    result = run_train(stage_inputs, "iesg")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("train: iesg on 16 training links")
    pretrained = read_pretrained(stage_inputs / "w2v")
    grounded = load_grounded_vectors(stage_inputs / "models")
    assert grounded.index_to_key == pretrained.index_to_key
    assert grounded.get_vecattr("noun0", "count") == pretrained.get_vecattr("noun0", "count")
    projection, _, _, paired_with = load_model_file(stage_inputs / "models", "iesg")
    assert projection.shape == (12, 8) and paired_with == "own"
    metrics = stage_inputs / "live" / "iesg" / LIVE_PLOTS / "metrics"
    for name in ("loss", "active_share", "val_p1"):
        log = pd.read_csv(metrics / f"{name}.tsv", sep="\t")
        assert list(log.columns) == ["step", name] and log["step"].tolist() == [1, 2], name
    summary = read_train_summary(stage_inputs / "models" / "iesg")
    assert summary["dropped_links"] == 1 and summary["dropped_images"] == 0 and summary["links_train"] == 16
    assert (summary["model"], summary["words"], summary["epochs_run"]) == ("iesg", "own", 2)


def test_train_refuses_an_unknown_param_and_writes_nothing(stage_inputs):
    (stage_inputs / "params.yaml").write_text("train:\n  models: [iesg]\n  iesg: {lamda: 2}\n")
    result = run_train(stage_inputs, "iesg")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith(
        "error: params train.iesg: unknown key(s) 'lamda' (did you mean 'lam'?)")
    assert not (stage_inputs / "models").exists() and not (stage_inputs / "live").exists()


def test_train_refuses_a_link_to_a_word_outside_the_vectors_and_writes_nothing(stage_inputs):
    """The join's rule (pipeline.artifacts.grounding), as evaluate applies it: links.csv and the vectors are
    from different runs, so the link is an error, not a silent drop."""
    links = pd.read_csv(stage_inputs / "links.csv")
    pd.concat([links, pd.DataFrame({"word": ["unknownword"], "image_id": ["img0"]})]).to_csv(
        stage_inputs / "links.csv", index=False)
    result = run_train(stage_inputs, "l2")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {stage_inputs / 'links.csv'}: 1 linked word(s) not in the word vectors (e.g. 'unknownword'); "
        "rerun map_images against the current vectors")
    assert not (stage_inputs / "models").exists() and not (stage_inputs / "live").exists()
