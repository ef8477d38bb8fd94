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
from gensim.models import KeyedVectors, Word2Vec

from conftest import load_grounded_vectors, load_model_file
from pipeline.dataset import load_training_inputs
from pipeline.model import Projection, TrainParams, train_devise, train_iesg, train_l2, validation_p1
from pipeline.params import load_section

REPO = Path(__file__).resolve().parents[1]
NOUNS = [f"noun{i}" for i in range(8)]


@pytest.fixture
def stage_inputs(tmp_path: Path) -> Path:
    rng = random.Random(0)
    fillers = [f"w{i}" for i in range(30)]
    lines = [" ".join(rng.choice(NOUNS + fillers) for _ in range(200)) for _ in range(50)]
    (tmp_path / "text.txt").write_text("\n".join(lines) + "\n")
    model = Word2Vec(corpus_file=str(tmp_path / "text.txt"), vector_size=8, min_count=1, sg=1,
                     epochs=1, workers=1, seed=0)
    (tmp_path / "w2v").mkdir()
    model.save(str(tmp_path / "w2v" / "model"))
    model.wv.save(str(tmp_path / "w2v" / "vectors.kv"))

    np_rng = np.random.default_rng(0)
    image_ids = [f"img{i}" for i in range(len(NOUNS) * 4)]
    splits = ["train", "train", "val", "test"] * len(NOUNS)
    words = [NOUNS[i // 4] for i in range(len(image_ids))]
    pd.DataFrame({"image_id": image_ids, "path": [f"{i}.jpg" for i in image_ids], "wnid": "n00000000",
                  "source": "test", "split": splits}).to_csv(tmp_path / "images.csv", index=False)
    pd.DataFrame({"word": words + ["unknownword"], "image_id": image_ids + ["img0"]}).to_csv(
        tmp_path / "links.csv", index=False)
    features = np.stack([model.wv[w] for w in words]) @ np_rng.normal(size=(8, 12))
    with h5py.File(tmp_path / "features.h5", "w") as handle:
        handle["features"] = features.astype(np.float32)
        handle["image_ids"] = np.array(image_ids, dtype=h5py.string_dtype())
    (tmp_path / "params.yaml").write_text(
        "train:\n  seed: 0\n  iesg: {epochs: 2, batch_size: 4}\n  devise: {epochs: 2}\n")
    return tmp_path


def run_train(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "stages/train.py"), "--corpus", str(root / "text.txt"),
         "--word2vec", str(root / "w2v"), "--images", str(root / "images.csv"),
         "--links", str(root / "links.csv"), "--features", str(root / "features.h5"),
         "--out", str(root / "models"), "--log", str(root / "train.csv"),
         "--metrics", str(root / "train.json"), "--params", str(root / "params.yaml")],
        capture_output=True, text=True,
    )


def training_inputs(root: Path):
    return load_training_inputs(root / "text.txt", root / "w2v", root / "images.csv", root / "links.csv",
                                root / "features.h5")


def test_saved_models_are_the_trained_ones_and_reproduce_the_metrics(stage_inputs):
    assert run_train(stage_inputs).returncode == 0
    inputs = training_inputs(stage_inputs)
    params = load_section(TrainParams, "train", stage_inputs / "params.yaml")
    pretrained, data = inputs.vectors.vectors, inputs.data
    iesg, iesg_words, _ = train_iesg(data, inputs.tokens, inputs.counts, pretrained, inputs.output_vectors,
                                     params.effective_iesg(), params.seed, l2_ridge=params.l2.ridge)
    expected = {"l2": train_l2(data, pretrained, params.l2), "iesg": iesg,
                "devise": train_devise(data, pretrained, params.devise, params.seed)[0]}
    models = stage_inputs / "models"
    grounded = load_grounded_vectors(models)
    np.testing.assert_allclose(grounded.vectors, iesg_words, rtol=1e-5, atol=1e-6)
    assert not np.allclose(grounded.vectors, pretrained, atol=1e-3)

    saved = {}
    for name in expected:
        projection, center, normalize, paired_with = load_model_file(models, name)
        saved[name] = (Projection(projection, center, normalize), paired_with)
    for name, (projection, _) in saved.items():
        np.testing.assert_allclose(projection.projection, expected[name].projection, rtol=1e-5, atol=1e-6, err_msg=name)
        np.testing.assert_allclose(projection.center, expected[name].center, rtol=1e-5, atol=1e-6, err_msg=name)
        assert projection.normalize_features == expected[name].normalize_features, name
    assert not np.allclose(saved["iesg"][0].projection, saved["l2"][0].projection, atol=1e-3)

    unit = pretrained / np.linalg.norm(pretrained, axis=1, keepdims=True)
    scored_against = {"l2": (pretrained, "dot"), "devise": (unit, "dot"),
                      "iesg": (grounded.vectors, params.effective_iesg().energy)}
    val_p1 = json.loads((stage_inputs / "train.json").read_text())["val_p1"]
    for name, (words, energy) in scored_against.items():
        projection, _ = saved[name]
        assert val_p1[name] == round(validation_p1(projection.project(data.features), words, data, energy), 4), name


def test_train_writes_models_grounded_vectors_log_and_metrics(stage_inputs):
    result = run_train(stage_inputs)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("train: ")
    pretrained = KeyedVectors.load(str(stage_inputs / "w2v" / "vectors.kv"))
    grounded = load_grounded_vectors(stage_inputs / "models")
    assert grounded.index_to_key == pretrained.index_to_key
    assert grounded.get_vecattr("noun0", "count") == pretrained.get_vecattr("noun0", "count")
    for name, words in (("l2", "pretrained"), ("devise", "pretrained"), ("iesg", "iesg")):
        projection, _, _, paired_with = load_model_file(stage_inputs / "models", name)
        assert projection.shape == (12, 8)
        assert paired_with == words
    log = pd.read_csv(stage_inputs / "train.csv")
    assert list(log.columns) == ["model", "epoch", "loss", "active_share", "val_p1"]
    assert set(log["model"]) == {"devise", "iesg"}
    metrics = json.loads((stage_inputs / "train.json").read_text())
    assert metrics["dropped_links"] == 1 and metrics["links_train"] == 16


def test_train_refuses_an_unknown_param_and_writes_nothing(stage_inputs):
    (stage_inputs / "params.yaml").write_text("train:\n  iesg: {lamda: 2}\n")
    result = run_train(stage_inputs)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: params train.iesg: unknown key(s) lamda")
    assert not (stage_inputs / "models").exists()
