"""The Python API on the tiny end-to-end run: images of a word or phrase, words of an image (id, mapped file,
new file), neighbours, the grounded vectors, and the default model."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import yaml
from gensim.models import KeyedVectors

from conftest import at, load_grounded_vectors, load_model_file, project
from pipeline.artifacts.layout import ARTIFACTS
from pipeline.api import Run, load_model
from pipeline.api.run_files import RunPaths, featurize_image_file
from pipeline.core.errors import PipelineError

REPO = Path(__file__).resolve().parents[2]
TEST_DATA = REPO / "tests" / "data"


def saved(root: Path, model: str) -> tuple[list[str], np.ndarray, KeyedVectors, pd.DataFrame]:
    """Image ids (sorted), their projected features, the model's word vectors and images.csv, read by hand."""
    with h5py.File(at(root, "features")) as h5:
        ids = [i.decode() for i in h5["image_ids"][:]]
        features = h5["features"][:]
    order = np.argsort(ids, kind="stable")
    projection, center, normalize, side = load_model_file(at(root, "models"), model)
    vectors = (load_grounded_vectors(at(root, "models"), model) if side == "own"
               else KeyedVectors.load(str(at(root, "vectors"))))
    images = pd.read_csv(at(root, "images")).set_index("image_id")
    return [ids[i] for i in order], project(features[order], projection, center, normalize), vectors, images


def unit(matrix: np.ndarray) -> np.ndarray:
    return matrix / np.linalg.norm(matrix, axis=-1, keepdims=True)


def test_images_for_a_word_and_a_phrase_are_ranked_by_the_model_score(tiny_run):
    model = load_model(tiny_run, "iesg", "dot")
    ids, images, vectors, table = saved(tiny_run, "iesg")
    result = model.images_for_word("Dog", k=32)
    assert (result.word, result.words, result.model, result.chosen, result.score, result.retrieval) == (
        "dog", ["dog"], "iesg", "named", "dot", "plain")
    scores = images @ vectors["dog"]
    assert [hit.image_id for hit in result.top] == [ids[i] for i in np.argsort(-scores, kind="stable")]
    np.testing.assert_allclose([hit.score for hit in result.top], np.sort(scores)[::-1], rtol=1e-5, atol=1e-6)
    assert {hit.image_id for hit in result.top if hit.linked} == {f"tiny/dog{i}.png" for i in range(4)}
    assert all(hit.path == table.loc[hit.image_id, "path"] and hit.split == table.loc[hit.image_id, "split"]
               for hit in result.top)
    assert (result.candidates, result.linked_images) == (32, 4)

    phrase = model.images_for_word("dog  cat", k=3, split="test", score="cos")
    assert phrase.words == ["dog", "cat"] and phrase.word == "dog cat" and phrase.score == "cos"
    test = [i for i, image_id in enumerate(ids) if table.loc[image_id, "split"] == "test"]
    cosines = unit(images[test]) @ unit((vectors["dog"] + vectors["cat"]) / 2)
    best = np.argsort(-cosines, kind="stable")[:3]
    assert [hit.image_id for hit in phrase.top] == [ids[test[i]] for i in best]
    np.testing.assert_allclose([hit.score for hit in phrase.top], cosines[best], rtol=1e-5, atol=1e-6)
    assert (phrase.candidates, phrase.linked_images) == (8, 2)  # dog3 and cat3: linked to one of its words
    assert all(hit.linked == (hit.image_id in ("tiny/dog3.png", "tiny/cat3.png")) for hit in phrase.top)


def test_words_for_an_image_id_its_mapped_file_and_a_new_file(tiny_run, tmp_path, monkeypatch):
    run = Run(tiny_run)
    model = run.model("l2", "dot")
    ids, images, vectors, _ = saved(tiny_run, "l2")
    words = sorted(pd.read_csv(at(tiny_run, "links"))["word"].unique())
    by_id = model.words_for_image("tiny/dog3.png", k=4)
    assert by_id.query.image_id == "tiny/dog3.png" and by_id.query.split == "test"
    assert by_id.query.linked_words == ["animal", "dog"] and by_id.candidates == len(words)
    scores = vectors[words] @ images[ids.index("tiny/dog3.png")]
    assert [hit.word for hit in by_id.top] == [words[i] for i in np.argsort(-scores, kind="stable")[:4]]
    assert all(hit.linked == (hit.word in ("animal", "dog")) for hit in by_id.top)

    assert model.words_for_image(at(tiny_run, "image_files") / "dog/3.png", k=4) == by_id  # the image, not a new file
    monkeypatch.chdir(tiny_run)
    assert model.words_for_image(f"{ARTIFACTS['image_files'].path}/dog/3.png", k=4) == by_id

    copy = tmp_path / "dog.png"
    shutil.copy(at(tiny_run, "image_files") / "dog/3.png", copy)
    by_file = model.words_for_image(copy, k=4)
    assert by_file.query.image_id is None and by_file.query.split is None and by_file.query.linked_words == []
    assert [hit.word for hit in by_file.top] == [hit.word for hit in by_id.top]
    np.testing.assert_allclose([h.score for h in by_file.top], [h.score for h in by_id.top], rtol=1e-3, atol=1e-3)
    assert not any(hit.linked for hit in by_file.top)


def test_neighbours_and_the_grounded_vectors(tiny_run):
    model = load_model(tiny_run, "iesg")
    grounded = load_grounded_vectors(at(tiny_run, "models"))
    assert model.keyed_vectors.index_to_key == grounded.index_to_key
    np.testing.assert_array_equal(model.keyed_vectors.vectors, grounded.vectors)
    result = model.neighbours("zebra", k=4)
    assert result.model == "iesg" and result.linked_images == 4
    for side, vectors in ((result.grounded, grounded),
                          (result.pretrained, KeyedVectors.load(str(at(tiny_run, "vectors"))))):
        expected = vectors.most_similar("zebra", topn=4)
        assert [n.word for n in side] == [w for w, _ in expected] and [n.rank for n in side] == [1, 2, 3, 4]
        np.testing.assert_allclose([n.cosine for n in side], [c for _, c in expected], atol=1e-5)
    phrase = model.neighbours("zebra horse", k=5)
    assert phrase.linked_images == 8 and not {"zebra", "horse"} & {n.word for n in phrase.grounded}
    mean = unit(grounded["zebra"] + grounded["horse"])
    assert phrase.grounded[0].cosine == pytest.approx(float(unit(grounded[phrase.grounded[0].word]) @ mean), abs=1e-5)

    assert load_model(tiny_run, "l2").keyed_vectors.index_to_key == grounded.index_to_key  # the pretrained ones
    with pytest.raises(PipelineError, match="model 'l2' learns no word vectors; models that do: iesg"):
        load_model(tiny_run, "l2").neighbours("zebra")


def test_the_default_model_is_the_best_validation_p1_and_every_result_says_so(tiny_run, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(at(tiny_run, "models"), models)
    val_p1 = {"l2": 0.1, "devise": 0.99, "iesg": 0.98, "contrastive": 0.2, "joint": 0.3}  # devise: listed second
    for name, value in val_p1.items():
        summary = json.loads((models / name / "train.json").read_text())
        (models / name / "train.json").write_text(json.dumps({**summary, "val_p1": value}))
    run = Run(tiny_run, models=models)
    model = run.model()
    assert (model.name, model.chosen, model.score) == ("devise", "best validation P@1 0.990", "cos")
    assert model.label == "devise (best validation P@1 0.990)"
    images = model.images_for_word("dog")
    assert (images.model, images.chosen, images.score) == ("devise", "best validation P@1 0.990", "cos")
    named = run.model("devise", "cos").images_for_word("dog")
    assert named.chosen == "named" and named.top == images.top
    words = model.words_for_image("tiny/cat3.png", score="dot")
    assert (words.model, words.score) == ("devise", "dot")
    # devise learns no word vectors: the neighbours' default is the best of those that do
    neighbours = run.model(word_vectors=True).neighbours("dog")
    assert (neighbours.model, neighbours.chosen) == ("iesg", "best validation P@1 of the models that learn word "
                                                             "vectors 0.980")


@pytest.mark.parametrize("call, message", [
    (lambda m: m.images_for_word("dgo"), "'dgo': not in the vocabulary of .*/data/models/iesg/vectors.kv; "
                                         "close matches: dog"),
    (lambda m: m.images_for_word("dog cta"), "'cta': not in the vocabulary of .*; close matches: cat"),
    (lambda m: m.images_for_word(" "), "an empty query; give a word or a phrase"),
    (lambda m: m.images_for_word("dog", split="holdout"), "split 'holdout': unknown; known: all, train, val, test"),
    (lambda m: m.images_for_word("dog", score="l1"), "score 'l1': unknown; known: dot, cos"),
    (lambda m: m.images_for_word("dog", retrieval="magic"), "retrieval 'magic': unknown; known: plain"),
    (lambda m: m.words_for_image("tiny/dgo3.png"), "'tiny/dgo3.png': neither an image id in .* nor an image file; "
                                                   "close matches: tiny/dog3.png"),
    (lambda m: m.run.model("clip"), r"'clip': not a model of train.models in .*params.yaml \(l2, devise, iesg, "
                                    r"contrastive, joint\); no close match"),
])
def test_bad_queries_are_one_pipeline_error(tiny_run, call, message):
    with pytest.raises(PipelineError, match=message):
        call(load_model(tiny_run, "iesg"))


def test_a_new_image_file_is_featurized_with_the_runs_tta_as_the_stage_did(tmp_path):
    features = {"encoder": "resnet18", "weights": "none", "batch_size": 2, "num_workers": 0, "threads": 2,
                "seed": 1, "tta": "flip"}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"features": features}))
    (tmp_path / "img").mkdir()
    for name in ("tuxpaint_zebra.png", "tuxpaint_strawberry.png"):
        shutil.copy(TEST_DATA / name, tmp_path / "img" / name)
    (tmp_path / "images.csv").write_text("image_id,path\nzebra,img/tuxpaint_zebra.png\n"
                                         "strawberry,img/tuxpaint_strawberry.png\n")
    stage = subprocess.run([sys.executable, str(REPO / "stages" / "featurize.py"), "--images", "images.csv"],
                           cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert stage.returncode == 0, stage.stderr
    assert "(resnet18, none weights, flip TTA, 512-d, on cpu)" in stage.stdout
    with h5py.File(at(tmp_path, "features")) as h5:
        stored = h5["features"][:]
    paths = RunPaths.at(tmp_path)

    for row, name in enumerate(("tuxpaint_zebra.png", "tuxpaint_strawberry.png")):
        np.testing.assert_allclose(featurize_image_file(paths, TEST_DATA / name), stored[row], atol=1e-5)

    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"features": {**features, "tta": "none"}}))
    with pytest.raises(PipelineError, match="features.encoder/weights/tta are resnet18/none/none but .* made with "
                                            "resnet18/none/flip; rerun featurize and train"):
        featurize_image_file(paths, TEST_DATA / "tuxpaint_zebra.png")
