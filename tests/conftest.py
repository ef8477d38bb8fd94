"""Make this checkout's ``pipeline`` package the one that stage scripts run by the tests import,
even when another clone is pip-installed in editable mode on the same machine.

Also the shared ``tiny_run`` fixture: the pipeline's stages from featurize on run for real on tiny inputs."""

import json
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
from pipeline.artifacts.grounding import join_grounding
from pipeline.evaluation.protocol import matching_data

REPO = str(Path(__file__).resolve().parents[1])
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (REPO, os.environ.get("PYTHONPATH")) if p)


def at(root: Path, name: str, model: str | None = None) -> Path:
    """Artifact ``name`` of the run at ``root`` (the path dvc.yaml gives it)."""
    return ARTIFACTS[name].at(root, model)


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
TINY_PARAMS = """\
features: {encoder: resnet18, weights: none, batch_size: 16, num_workers: 0, threads: 2, seed: 0}
train:
  seed: 0
  models: [l2, devise, iesg, contrastive, joint]
  l2: {}
  contrastive: {epochs: 3, batch_size: 8}
  joint: {epochs: 2, batch_size: 8, text_pairs_per_epoch: 2000, text_batch_size: 256}
  iesg: {epochs: 2, batch_size: 4, lam: 1.0, context_vectors: output, lr: 0.05, init: l2, normalize_features: true, center_features: true}
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


# Mutation testing (bench/mutation.py, mutmut 3). mutmut runs these tests in its copy of the checkout
# with MUTANT_UNDER_TEST naming the active mutant; the stage scripts that tests run in subprocesses
# inherit it (and import that copy: PYTHONPATH above), so a failing stage kills a mutant too. While
# mutmut records which tests reach which function (MUTANT_UNDER_TEST=stats), a subprocess's hits
# would be lost and its trampolines would look for mutmut's config in the subprocess's working
# directory and fail: the subprocesses then load the sitecustomize below, which reads the config of
# the copy and writes their hits to a folder, and each test's hits are handed to mutmut before it
# files them under that test. Without mutmut none of this runs.
def _mutmut_recording() -> bool:
    return os.environ.get("MUTANT_UNDER_TEST") == "stats" and "mutmut" in sys.modules


_SUBPROCESS_HITS = """\
import atexit, json, os
if os.environ.get("MUTANT_UNDER_TEST") == "stats":
    from mutmut import configuration
    from mutmut.state import state
    _cwd = os.getcwd()
    os.chdir(os.environ["MUTMUT_HITS_ROOT"])
    configuration.config()
    os.chdir(_cwd)
    def _write_hits():
        with open(os.path.join(os.environ["MUTMUT_HITS_DIR"], f"{os.getpid()}.json"), "w") as f:
            json.dump(sorted(state()._stats), f)
    atexit.register(_write_hits)
"""


@pytest.fixture(autouse=True, scope="session")
def _mutmut_subprocess_hits(tmp_path_factory: pytest.TempPathFactory):
    if not _mutmut_recording():
        yield
        return
    hits = tmp_path_factory.mktemp("mutmut_hits")
    (hits / "sitecustomize.py").write_text(_SUBPROCESS_HITS)
    saved = {k: os.environ.get(k) for k in ("PYTHONPATH", "MUTMUT_HITS_DIR", "MUTMUT_HITS_ROOT")}
    os.environ.update(PYTHONPATH=os.pathsep.join((str(hits), os.environ["PYTHONPATH"])),
                      MUTMUT_HITS_DIR=str(hits), MUTMUT_HITS_ROOT=REPO)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item):
    """Hand the hits of this test's subprocesses to mutmut (whose own teardown hook runs after)."""
    folder = os.environ.get("MUTMUT_HITS_DIR")
    if not (folder and _mutmut_recording()):
        return
    from mutmut.state import state

    for path in Path(folder).glob("*.json"):
        state()._stats.update(json.loads(path.read_text()))
        path.unlink()


# Under mutmut, each mutant's tests run in a fresh pytest session, which would build tiny_run (three
# stages in subprocesses) again for every mutant that a tiny_run test reaches. The stats run (the
# unmutated code) keeps its tiny run and the functions its stages reached in _TINY_RUN_CACHE, tagged
# with a fingerprint of the code they ran; a later session copies it instead of building, unless the
# active mutant is in a function the build reached (then the mutant could change the tiny run, and it
# is built anew, as without the cache). The copy is what the build would make: the same code on the
# same inputs. Without mutmut none of this runs.
_TINY_RUN_CACHE = Path(REPO) / ".mutmut_tiny_run"


def _tiny_run_fingerprint() -> str:
    """Hash of what a tiny run depends on: the package and the stage scripts (mutmut's copies, the
    trampolines included), this file and dvc.yaml."""
    import hashlib

    digest = hashlib.sha256()
    files = [p for folder in ("pipeline", "stages") for p in sorted((Path(REPO) / folder).rglob("*.py"))]
    for path in [*files, Path(__file__), Path(REPO) / "dvc.yaml"]:
        digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _under_mutmut() -> bool:
    return "mutmut" in sys.modules and "MUTANT_UNDER_TEST" in os.environ


def _cached_tiny_run(root: Path) -> bool:
    """Copy the unmutated tiny run into ``root`` if it is the one this session would build."""
    if not _under_mutmut():
        return False
    mutant = os.environ["MUTANT_UNDER_TEST"]
    if mutant != "" and "__mutmut_" not in mutant:  # stats, fail, list_all_tests: build as usual
        return False
    try:
        meta = json.loads((_TINY_RUN_CACHE / "meta.json").read_text())
    except (OSError, ValueError):
        return False
    if meta.get("fingerprint") != _tiny_run_fingerprint():
        return False
    if mutant and mutant.partition("__mutmut_")[0] in set(meta["reached"]):
        return False
    shutil.copytree(_TINY_RUN_CACHE / "root", root, dirs_exist_ok=True)
    return True


def _build_tiny_run(root: Path) -> None:
    _write_tiny_inputs(root)
    commands = [["featurize"], *(["train", "--model", name] for name in TINY_MODELS), ["evaluate"], ["explore"]]
    for stage, *options in commands:
        result = subprocess.run([sys.executable, str(Path(REPO) / "stages" / f"{stage}.py"), *options], cwd=root,
                                capture_output=True, text=True)
        assert result.returncode == 0, f"{stage} {' '.join(options)} failed on the tiny run:\n{result.stderr[-3000:]}"


def _build_and_cache_tiny_run(root: Path) -> None:
    """While mutmut records hits: build, then keep the tiny run and every function it reached (in this
    process and in the stage subprocesses, whose hit files are left for pytest_runtest_teardown)."""
    from mutmut.state import state

    before = set(state()._stats)
    state()._stats.clear()
    folder = Path(os.environ["MUTMUT_HITS_DIR"])
    seen = set(folder.glob("*.json"))
    _build_tiny_run(root)
    reached = set(state()._stats)
    state()._stats.update(before)
    for path in set(folder.glob("*.json")) - seen:
        reached.update(json.loads(path.read_text()))
    staging = _TINY_RUN_CACHE.with_name(_TINY_RUN_CACHE.name + f".{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(root, staging / "root")
    (staging / "meta.json").write_text(json.dumps({"fingerprint": _tiny_run_fingerprint(),
                                                   "reached": sorted(reached)}))
    shutil.rmtree(_TINY_RUN_CACHE, ignore_errors=True)
    staging.rename(_TINY_RUN_CACHE)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    """Under mutmut with a mutant active, run the tests without tiny_run first: with ``-x``, a mutant that
    a unit test kills then never waits for a tiny run; the same tests run, only in another order."""
    if _under_mutmut() and "__mutmut_" in os.environ["MUTANT_UNDER_TEST"]:
        items.sort(key=lambda item: "tiny_run" in getattr(item, "fixturenames", ()))


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project root where featurize (random ResNet-18), train, evaluate and explore ran on tiny inputs.

    8 nouns with 4 generated 40x40 images each (train, train, val, test), links noun -> its images
    and animal -> the animal images, 8-d word2vec vectors; every artifact at its dvc.yaml path.
    """
    root = tmp_path_factory.mktemp("tiny_run")
    if _cached_tiny_run(root):
        return root
    if _mutmut_recording() and os.environ.get("MUTMUT_HITS_DIR"):
        _build_and_cache_tiny_run(root)
    else:
        _build_tiny_run(root)
    return root
