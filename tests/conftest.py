"""Make this checkout's ``pipeline`` package the one that stage scripts run by the tests import,
even when another clone is pip-installed in editable mode on the same machine.

Also the shared ``tiny_run`` fixture: the pipeline's stages from featurize on run for real on tiny inputs."""

import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from gensim.models import KeyedVectors, Word2Vec
from PIL import Image

from pipeline.artifacts.layout import ARTIFACTS, DVC_YAML, PARAMS, PROJECTION_FILE
from pipeline.artifacts.model_dir import learnt_vectors_path, projection_shape, read_projection
from pipeline.artifacts.tables import IMAGE_COLUMNS, LINK_COLUMNS, UNMAPPED_COLUMNS, write_table
from pipeline.artifacts.vectors import read_vectors, write_word2vec
from pipeline.artifacts.grounding import join_grounding, read_grounding
from pipeline.evaluation.protocol import matching_data

REPO = str(Path(__file__).resolve().parents[1])
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (REPO, os.environ.get("PYTHONPATH")) if p)


def at(root: Path, name: str, model: str | None = None) -> Path:
    """Artifact ``name`` of the run at ``root`` (the path dvc.yaml gives it)."""
    return ARTIFACTS[name].at(root, model)


def tiny_data(root: Path):
    """The evaluation's index of the run at ``root``, read from its artifacts as evaluate reads them."""
    vectors = read_vectors(at(root, "vectors"))
    return matching_data(read_grounding(at(root, "images"), at(root, "links"), at(root, "features"), vectors), vectors)


def joined(images, links, feature_ids: list[str], features: np.ndarray, vocabulary: KeyedVectors):
    """The evaluation's index of tables, features and vocabulary, joined as the stages join them."""
    return matching_data(join_grounding(images, links, feature_ids, features, vocabulary), vocabulary)


def load_model_file(models: Path, name: str) -> tuple[np.ndarray, np.ndarray, bool, str]:
    """A model file of the train stage: ``projection``, ``center``, ``normalize_features`` and the word vectors
    it pairs with (``pretrained``, or ``own``: the vectors beside it)."""
    path = models / name / PROJECTION_FILE
    model = read_projection(path, *projection_shape(path)[0])
    return model.projection, model.center, model.normalize_features, model.words


def load_grounded_vectors(models: Path, name: str = "iesg") -> KeyedVectors:
    """The word vectors model ``name`` learnt, as its train stage wrote them."""
    return read_vectors(learnt_vectors_path(models / name))


def project(features: np.ndarray, projection: np.ndarray, center: np.ndarray, normalize: bool) -> np.ndarray:
    """What a model file maps image features to: optionally unit-normalised, minus ``center``, times ``projection``."""
    if normalize:
        features = features / np.linalg.norm(features, axis=1, keepdims=True)
    return (features - center) @ projection


# Words of the tiny run and the WordNet 3.0 synset (wnid) of their images; "animal" is also
# linked to the images of the four animals, as map_images links a hypernym.
TINY_NOUNS = {"dog": "n02084071", "cat": "n02121620", "horse": "n02374451", "zebra": "n02391049",
              "apple": "n07739125", "strawberry": "n07745940", "car": "n02958343", "boat": "n02858304"}
TINY_ANIMALS = ("dog", "cat", "horse", "zebra")
TINY_MODELS = ("l2", "devise", "iesg", "contrastive", "joint")
# The values IESGParams defaulted to before its defaults became params.yaml's (tuned) train.iesg, the paper's
# (pipeline.models.params.PAPER_IESG) where the two differ, epochs aside: a test's train.iesg section written
# against the old defaults spells them, so that it trains what it did.
PAPER_IESG_KEYS = ("lam: 5.0, negatives: 1, context_vectors: input, lr: 0.01, patience: 0, init: normal, "
                   "normalize_features: false, center_features: false")
TINY_PARAMS = """\
features: {encoder: resnet18, weights: none, batch_size: 16, num_workers: 0, threads: 2, seed: 0}
train:
  seed: 0
  models: [l2, devise, iesg, contrastive, joint]
  l2: {normalize_features: false, center_features: false}
  contrastive: {epochs: 3, batch_size: 8}
  joint: {epochs: 2, batch_size: 8, text_pairs_per_epoch: 2000, text_batch_size: 256}
  iesg: {epochs: 2, batch_size: 4, lam: 1.0, context_vectors: output, lr: 0.05, init: l2, normalize_features: true, center_features: true, negatives: 1, patience: 0}
  devise: {epochs: 2}
evaluate: {n_examples: 4, top_examples: 5, thumbnail_px: 48, bootstrap_resamples: 200, headline_spaces: [pretrained, iesg]}
map_images: {}
explore: {default_model: iesg, top_k: 6, top_words: 5, vocabulary_size: 10, thumbnail_px: 32}
"""


@pytest.fixture
def one_thread():
    """Torch on one thread, as the train stage runs it: tiny batches only lose to intra-op threads (and
    to a busy machine). Use with ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    import torch  # here: most tests never import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _write_tiny_inputs(root: Path) -> None:
    """What fetch_corpus, pretrain and map_images would have written, at their dvc.yaml paths."""
    rng = random.Random(0)
    words = [*TINY_NOUNS, "animal", *(f"w{i}" for i in range(30))]
    corpus = at(root, "corpus")
    corpus.parent.mkdir(parents=True)
    lines = [" ".join(rng.choice(words) for _ in range(200)) for _ in range(50)]
    corpus.write_text("\n".join(lines) + "\n")
    model = Word2Vec(corpus_file=str(corpus), vector_size=8, min_count=1, sg=1, epochs=1, workers=1, seed=0)
    write_word2vec(at(root, "word2vec_dir"), model)

    pixels = np.random.default_rng(0)
    images, links = [], []
    for n, (noun, wnid) in enumerate(TINY_NOUNS.items()):
        (at(root, "image_files") / noun).mkdir(parents=True)
        for i, split in enumerate(("train", "train", "val", "test")):
            colour = np.array([(37 * n) % 256, (91 * n + 40) % 256, (53 * n + 100) % 256])
            noisy = (colour + pixels.integers(-40, 40, (40, 40, 3))).clip(0, 255).astype(np.uint8)
            path = f"{ARTIFACTS['image_files'].path}/{noun}/{i}.png"
            Image.fromarray(noisy).save(root / path)
            image_id = f"tiny/{noun}{i}.png"
            images.append((image_id, path, wnid, "tiny", split, noun))
            links += [(noun, image_id)] + ([("animal", image_id)] if noun in TINY_ANIMALS else [])
    write_table(at(root, "images"), images, IMAGE_COLUMNS)
    write_table(at(root, "links"), links, LINK_COLUMNS)
    write_table(at(root, "unmapped"), [("tiny/abstract.png", f"{ARTIFACTS['image_files'].path}/abstract.png", "tiny",
                                        "abstract", "abstract or unlabelled")], UNMAPPED_COLUMNS)
    (root / PARAMS).write_text(TINY_PARAMS)
    shutil.copy(Path(REPO) / DVC_YAML, root / DVC_YAML)


def _build_tiny_run(root: Path) -> None:
    _write_tiny_inputs(root)
    commands = [["featurize"], *(["train", "--model", name] for name in TINY_MODELS), ["evaluate"], ["explore"]]
    for stage, *options in commands:
        result = subprocess.run([sys.executable, str(Path(REPO) / "stages" / f"{stage}.py"), *options], cwd=root,
                                capture_output=True, text=True)
        assert result.returncode == 0, f"{stage} {' '.join(options)} failed on the tiny run:\n{result.stderr[-3000:]}"


@pytest.fixture(scope="session")
def tiny_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project root where featurize (random ResNet-18), train, evaluate and explore ran on tiny inputs.

    8 nouns with 4 generated 40x40 images each (train, train, val, test), links noun -> its images
    and animal -> the animal images, 8-d word2vec vectors; every artifact at its dvc.yaml path.
    """
    root = tmp_path_factory.mktemp("tiny_run")
    # bench/mutation.py's pytest plugin (bench/mutation_plugin.py) reuses the unmutated tiny run under mutmut
    wrap = getattr(request.config, "wrap_tiny_run_build", None)
    (wrap(_build_tiny_run) if wrap else _build_tiny_run)(root)
    return root
