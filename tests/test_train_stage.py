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


def test_train_writes_models_grounded_vectors_log_and_metrics(stage_inputs):
    result = run_train(stage_inputs)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("train: ")
    pretrained = KeyedVectors.load(str(stage_inputs / "w2v" / "vectors.kv"))
    grounded = KeyedVectors.load(str(stage_inputs / "models" / "iesg_vectors.kv"))
    assert grounded.index_to_key == pretrained.index_to_key
    assert grounded.get_vecattr("noun0", "count") == pretrained.get_vecattr("noun0", "count")
    for name, words in (("l2", "pretrained"), ("devise", "pretrained"), ("iesg", "iesg")):
        model = np.load(stage_inputs / "models" / f"{name}.npz")
        assert model["projection"].shape == (12, 8)
        assert str(model["words"]) == words
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
