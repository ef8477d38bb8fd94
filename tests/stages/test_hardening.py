"""Hardening: every stage script fed bad input on purpose, killed mid-run, and rerun.

Each bad-input case runs the real stage script in a subprocess on tiny inputs and expects a non-zero
exit, exactly one ``error:`` line on stderr that names the offending input (file or params key), no
traceback, and the outputs of a previous run (sentinel files) byte-identical afterwards, with no
temporary left beside them. A single undecodable image is the exception: featurize skips it, says so
and lists it in its report.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from conftest import PAPER_IESG_KEYS
from pipeline.artifacts.layout import LIVE_PLOTS, LIVE_SUMMARY, PROJECTION_FILE, VECTORS_FILE, WORD2VEC_MODEL_FILE
from pipeline.artifacts.vectors import write_word2vec
from pipeline.core.errors import PipelineError
from pipeline.core.params import load_section
from pipeline.images.wordnet import SYSTEM_WORDNET

REPO = Path(__file__).resolve().parents[2]
# Real WordNet 3.0 noun synsets: tench, goldfish, Chihuahua, tabby (a cat).
WNIDS = ["n01440764", "n01443537", "n02085620", "n02123045"]
NOUNS = ["fish", "tench", "goldfish", "dog", "cat"]
FILLERS = [f"w{i}" for i in range(30)]

PARAMS = {
    "pretrain": {"vector_size": 8, "min_count": 1, "epochs": 1, "analogy_restrict_vocab": 100},
    "features": {"encoder": "resnet18", "weights": "none", "batch_size": 4, "num_workers": 0, "threads": 1},
    "train": {"seed": 0, "models": ["iesg"], "iesg": {"epochs": 2, "batch_size": 4, **yaml.safe_load(f"{{{PAPER_IESG_KEYS}}}")}},
}


# --------------------------------------------------------------------------- helpers


def run_script(stage: str, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "stages" / f"{stage}.py"), *map(str, args)],
                          cwd=cwd, capture_output=True, text=True, timeout=300)


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (hidden temporaries included) -> its bytes."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def error_line(result: subprocess.CompletedProcess) -> str:
    """Assert the run failed with exactly one ``error:`` line and no traceback; return that line."""
    assert result.returncode not in (0, None), result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.rstrip("\n").splitlines()
    assert len([line for line in lines if line.startswith("error:")]) == 1, result.stderr
    assert lines[-1].startswith("error:"), result.stderr  # the message is one line, and the last
    return lines[-1]


def truncate(source: Path, dest: Path, keep: float = 0.5) -> Path:
    data = source.read_bytes()
    dest.write_bytes(data[: int(len(data) * keep)])
    return dest


def write_params(path: Path, sections: dict) -> Path:
    path.write_text(yaml.safe_dump(sections, sort_keys=False))
    return path


def _jpeg(path: Path, shade: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(shade).integers(0, 256, (24, 24, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, "JPEG", quality=90)


# --------------------------------------------------------------------------- a tiny world


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, Path]:
    """Good inputs of every stage but evaluate, written by hand or by the real stages."""
    if not (SYSTEM_WORDNET / "data.noun").is_file():
        pytest.skip("WordNet 3.0 not installed (apt-get install wordnet-base wordnet-sense-index)")
    from gensim.models import Word2Vec

    root = tmp_path_factory.mktemp("world")
    rng = np.random.default_rng(0)
    (root / "prose.txt").write_text("The dog chased the cat; a tench is a fish, 7 goldfish swam.\n" * 20)
    lines = [" ".join(rng.choice(NOUNS + FILLERS, 200)) for _ in range(50)]
    (root / "text.txt").write_text("\n".join(lines) + "\n")
    model = Word2Vec(corpus_file=str(root / "text.txt"), vector_size=8, min_count=1, sg=1, epochs=1,
                     workers=1, seed=0)
    write_word2vec(root / "w2v", model)
    for k, wnid in enumerate(WNIDS):
        for i in range(6):
            _jpeg(root / "imagenet" / "train" / wnid / f"{wnid}_{i}.JPEG", shade=10 * k + i)
    params = {
        "corpus": {"source": "file", "path": str(root / "prose.txt")},
        **PARAMS,
        "map_images": {"seed": 0, "max_synset_share": 0.5, "images": {"source": "imagenet_dir", "path": str(root / "imagenet")},
                       "split": {"train": 0.5, "val": 0.25, "test": 0.25}},
    }
    write_params(root / "params.yaml", params)
    result = run_script("map_images", ["--params", root / "params.yaml", "--vectors", root / "w2v" / VECTORS_FILE,
                                       "--downloads", root / "cache", "--wordnet-cache", root / "nltk_data",
                                       "--images-dir", root / "images", "--images", root / "mapping" / "images.csv",
                                       "--links", root / "mapping" / "links.csv",
                                       "--unmapped", root / "mapping" / "unmapped.csv",
                                       "--metrics", root / "mapping.json"], root)
    assert result.returncode == 0, result.stderr
    ids = pd.read_csv(root / "mapping" / "images.csv")["image_id"].tolist()
    assert len(ids) == 24
    with h5py.File(root / "features.h5", "w") as h5:
        h5["features"] = rng.normal(size=(len(ids), 12)).astype(np.float32)
        h5["image_ids"] = np.array(ids, dtype=h5py.string_dtype())
    return {"root": root, "params": root / "params.yaml", "prose": root / "prose.txt", "text": root / "text.txt",
            "w2v": root / "w2v", "vectors": root / "w2v" / VECTORS_FILE, "imagenet": root / "imagenet",
            "images": root / "mapping" / "images.csv", "links": root / "mapping" / "links.csv",
            "features": root / "features.h5"}


@pytest.fixture(scope="module")
def eval_world(tmp_path_factory) -> dict[str, Path]:
    """The evaluate stage's inputs (tests/evaluation/test_protocol.py's toy taxonomy)."""
    from toy_taxonomy import write_fixture

    return write_fixture(tmp_path_factory.mktemp("eval_world"))


# Each stage: its input flags (taken from the worlds) and its outputs (written under out/).
OUTPUTS = {
    "check_params": {"--stamp": "params_check.txt"},
    "fetch_corpus": {"--text": "text.txt", "--metrics": "corpus.json"},
    "pretrain": {"--out": "word2vec/", "--metrics": "pretrain.json"},
    "map_images": {"--images-dir": "images/", "--images": "mapping/images.csv", "--links": "mapping/links.csv",
                   "--unmapped": "mapping/unmapped.csv", "--metrics": "mapping.json"},
    "featurize": {"--output": "features.h5", "--report": "report.json", "--metrics": "features.json"},
    "train": {"--out": "models/", "--live-dir": "live/"},
    "evaluate": {"--metrics": "metrics/", "--details": "details.json", "--plots": "plots/", "--report": "report/"},
    "explore": {"--out": "explorer/"},
}


def _explore_params(eval_world: dict) -> Path:
    """The evaluate world's params with an ``explore`` section."""
    path = eval_world["params"].parent / "explore_params.yaml"
    path.write_text(eval_world["params"].read_text() + "explore: {top_words: 3, default_model: null}\n")
    return path


def stage_inputs(stage: str, world: dict, eval_world: dict) -> dict[str, Path]:
    w = world
    if stage == "evaluate":
        e = eval_world
        return {"--params": e["params"], "--images": e["images"], "--links": e["links"], "--features": e["features"],
                "--vectors": e["vectors"], "--models": e["models"], "--train-logs": e["train_logs"],
                "--wordnet-cache": e["params"].parent / "nltk_cache"}
    if stage == "explore":
        e = eval_world
        return {"--params": _explore_params(e), "--images": e["images"], "--links": e["links"],
                "--features": e["features"], "--vectors": e["vectors"], "--models": e["models"]}
    return {
        "check_params": {"--params": w["params"]},
        "fetch_corpus": {"--params": w["params"], "--downloads": w["root"] / "cache"},
        "pretrain": {"--params": w["params"], "--corpus": w["text"]},
        "map_images": {"--params": w["params"], "--vectors": w["vectors"], "--downloads": w["root"] / "cache",
                       "--wordnet-cache": w["root"] / "nltk_data"},
        "featurize": {"--params": w["params"], "--images": w["images"]},
        "train": {"--model": "iesg", "--params": w["params"], "--corpus": w["text"], "--word2vec": w["w2v"],
                  "--images": w["images"], "--links": w["links"], "--features": w["features"]},
    }[stage]


def write_sentinels(stage: str, out: Path) -> dict[str, bytes]:
    """Stand-ins for a previous run's outputs; returns the snapshot of ``out``."""
    for name in OUTPUTS[stage].values():
        path = out / name
        if name.endswith("/"):
            path.mkdir(parents=True)
            (path / "previous.txt").write_text(f"previous {stage} output\n")
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"previous {stage} output\n")
    return snapshot(out)


def stage_args(stage: str, inputs: dict[str, Path], out: Path) -> list:
    args = [a for flag, path in inputs.items() for a in (flag, path)]
    return args + [a for flag, name in OUTPUTS[stage].items() for a in (flag, out / name.rstrip("/"))]


# --------------------------------------------------------------------------- bad inputs


def _zip_of(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _flip_middle(path: Path) -> Path:
    data = bytearray(path.read_bytes())
    for i in range(len(data) // 3, len(data) // 3 + 16):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _enwik8_xml(n: int = 200) -> bytes:
    page = "<page><title>Dog</title><text>The dog is a [[mammal]] and 7 cats are not.</text></page>\n"
    return ("<mediawiki>\n" + page * n + "</mediawiki>\n").encode()


def _with_params(world: dict, tmp: Path, section: str, update: dict) -> Path:
    sections = yaml.safe_load(world["params"].read_text())
    merged = dict(sections.get(section, {}))
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    sections[section] = merged
    return write_params(tmp / "bad_params.yaml", sections)


def _corpus_source(world, tmp, path, **extra):
    return {"--params": _with_params(world, tmp, "corpus", {"source": "file", "path": str(path), **extra})}


def _enwik8_source(world, tmp, path, **extra):
    return {"--params": _with_params(world, tmp, "corpus", {"source": "enwik8", "path": str(path), **extra})}


def _tiny_imagenet(world, tmp, archive, sha):
    return {"--params": _with_params(world, tmp, "map_images", {
        "images": {"source": "tiny_imagenet", "url": archive.as_uri(), "sha256": sha}}), "--downloads": tmp / "cache"}


def _good_zip(tmp: Path) -> Path:
    members = {}
    for i in range(3):
        buffer = io.BytesIO()
        Image.fromarray(np.random.default_rng(i).integers(0, 256, (24, 24, 3), dtype=np.uint8)).save(buffer, "JPEG")
        members[f"tiny-imagenet-200/train/{WNIDS[0]}/images/{WNIDS[0]}_{i}.JPEG"] = buffer.getvalue()
    return _zip_of(tmp / "src" / "tiny-imagenet-200.zip", members)


def _bad_zip_world(tmp, world, how):
    """Tiny ImageNet from a file:// URL: a wrong sha256, or a truncated / corrupt zip with its own sha256."""
    (tmp / "src").mkdir()
    archive = _good_zip(tmp)
    if how == "checksum":
        return (_tiny_imagenet(world, tmp, archive, "0" * 64),
                [archive.as_uri(), str(tmp / "cache" / "tiny-imagenet-200.zip")])
    if how == "truncated":
        truncate(archive, archive)
    else:
        _flip_middle(archive)
    return _tiny_imagenet(world, tmp, archive, _sha(archive)), [str(tmp / "cache" / "tiny-imagenet-200.zip")]


def _links_without_vocabulary(world, tmp):
    links = pd.read_csv(world["links"])
    links["word"] = "zzzunknown"
    links.to_csv(tmp / "links.csv", index=False)
    return tmp / "links.csv"


def _eval_links_outside(eval_world, tmp):
    links = pd.read_csv(eval_world["links"])
    links["word"] = "zzzunknown"
    links.to_csv(tmp / "links.csv", index=False)
    return tmp / "links.csv"


def _w2v_with_truncated_model(world, tmp):
    w2v = tmp / "w2v"
    shutil.copytree(world["w2v"], w2v)
    truncate(w2v / WORD2VEC_MODEL_FILE, w2v / WORD2VEC_MODEL_FILE, 0.3)
    return w2v


def _models_copy(eval_world, tmp, truncated):
    models = tmp / "models"
    shutil.copytree(eval_world["models"], models)
    truncate(models / truncated, models / truncated)
    return models


def _images_table(world, tmp, files: dict[str, Path]) -> Path:
    rows = [{"image_id": f"x/{name}", "path": str(path), "wnid": WNIDS[0], "source": "t", "split": "train"}
            for name, path in files.items()]
    pd.DataFrame(rows).to_csv(tmp / "images.csv", index=False)
    return tmp / "images.csv"


def _all_truncated_jpegs(world, tmp):
    files = {}
    for i, source in enumerate(sorted(world["imagenet"].rglob("*.JPEG"))[:3]):
        files[f"t{i}"] = truncate(source, tmp / f"t{i}.JPEG", 0.4)
    return _images_table(world, tmp, files)


# Case: stage -> (id, function(world, eval_world, tmp) -> (input overrides, names the error must contain)).
# Bad params at stage level for the other stages: test_word2vec.py, test_features.py, test_train_stage.py; every
# section's params in process: test_every_section_refuses_bad_params_naming_the_key below.
CASES = {
    "check_params": {
        "params_not_yaml": lambda w, e, t: ({"--params": _write(t / "p.yaml", "train: [unclosed\n")}, ["p.yaml"]),
        "unknown_model": lambda w, e, t: (
            {"--params": _with_params(w, t, "train", {"models": ["l2", "clip"]})},
            ["params train.models: unknown model 'clip'; known models: l2, devise, iesg"]),
        "misspelt_section": lambda w, e, t: (
            {"--params": _write(t / "p.yaml", w["params"].read_text() + "evalute: {}\n")},
            ["unknown section 'evalute' (did you mean 'evaluate'?)"]),
        "evaluate_model_not_trained": lambda w, e, t: (
            {"--params": _with_params(w, t, "evaluate", {"analysis_model": "joint"})},
            ["evaluate.analysis_model: 'joint' is not in train.models"]),
    },
    "fetch_corpus": {
        "missing_text": lambda w, e, t: (_corpus_source(w, t, t / "nowhere.txt"), ["nowhere.txt"]),
        "empty_text": lambda w, e, t: (_corpus_source(w, t, _touch(t / "empty.txt")), ["empty.txt"]),
        "enwik8_truncated_zip": lambda w, e, t: (
            _enwik8_source(w, t, truncate(_zip_of(t / "a.zip", {"enwik8": _enwik8_xml()}), t / "enwik8.zip"),
                           zip_sha256=None, text_sha256=None), ["enwik8.zip"]),
        "enwik8_corrupt_zip": lambda w, e, t: (
            _enwik8_source(w, t, _flip_middle(_zip_of(t / "enwik8.zip", {"enwik8": _enwik8_xml(2000)})),
                           zip_sha256=None, text_sha256=None), ["enwik8.zip"]),
        "enwik8_checksum": lambda w, e, t: (
            _enwik8_source(w, t, _zip_of(t / "enwik8.zip", {"enwik8": _enwik8_xml()}), zip_sha256="0" * 64),
            ["enwik8.zip", "sha256"]),
        "params_not_yaml": lambda w, e, t: ({"--params": _write(t / "p.yaml", "corpus: [unclosed\n")}, ["p.yaml"]),
        "params_wrong_type": lambda w, e, t: (
            {"--params": _with_params(w, t, "corpus", {"words_per_line": "many"})}, ["corpus.words_per_line"]),
    },
    "pretrain": {
        "empty_corpus": lambda w, e, t: ({"--corpus": _touch(t / "empty.txt")}, ["empty.txt"]),
        "binary_corpus": lambda w, e, t: ({"--corpus": _write_bytes(t / "binary.txt", bytes(range(256)) * 50)},
                                          ["binary.txt"]),
        "min_count_above_every_word": lambda w, e, t: (
            {"--params": _with_params(w, t, "pretrain", {"min_count": 100000})}, ["min_count"]),
    },
    "map_images": {
        "empty_vectors": lambda w, e, t: ({"--vectors": _touch(t / "vectors.kv")}, ["vectors.kv"]),
        "truncated_vectors": lambda w, e, t: ({"--vectors": truncate(w["vectors"], t / "vectors.kv")}, ["vectors.kv"]),
        "download_bad_checksum": lambda w, e, t: _bad_zip_world(t, w, "checksum"),
        "truncated_zip": lambda w, e, t: _bad_zip_world(t, w, "truncated"),
        "corrupt_zip": lambda w, e, t: _bad_zip_world(t, w, "corrupt"),
        "params_wrong_type": lambda w, e, t: (
            {"--params": _with_params(w, t, "map_images", {"split": {"mode": 3}})}, ["map_images.split.mode"]),
    },
    "featurize": {
        "empty_table": lambda w, e, t: ({"--images": _touch(t / "images.csv")}, ["images.csv"]),
        "binary_table": lambda w, e, t: ({"--images": _write_bytes(t / "images.csv", bytes(range(256)) * 4)},
                                         ["images.csv"]),
        "every_jpeg_truncated": lambda w, e, t: ({"--images": _all_truncated_jpegs(w, t)}, ["images.csv", "t0.JPEG"]),
    },
    "train": {
        "truncated_features_h5": lambda w, e, t: ({"--features": truncate(w["features"], t / "features.h5")},
                                                  ["features.h5"]),
        "truncated_word2vec_model": lambda w, e, t: ({"--word2vec": _w2v_with_truncated_model(w, t)}, ["model"]),
        "empty_corpus": lambda w, e, t: ({"--corpus": _touch(t / "empty.txt")}, ["empty.txt"]),
        "links_outside_vocabulary": lambda w, e, t: ({"--links": _links_without_vocabulary(w, t)}, ["links.csv"]),
    },
    "evaluate": {
        "truncated_model_npz": lambda w, e, t: (
            {"--models": _models_copy(e, t, f"iesg/{PROJECTION_FILE}")}, [f"iesg/{PROJECTION_FILE}"]),
        "truncated_iesg_vectors": lambda w, e, t: (
            {"--models": _models_copy(e, t, f"iesg/{VECTORS_FILE}")}, [f"iesg/{VECTORS_FILE}"]),
        "empty_images_table": lambda w, e, t: ({"--images": _touch(t / "images.csv")}, ["images.csv"]),
        "links_outside_vocabulary": lambda w, e, t: ({"--links": _eval_links_outside(e, t)}, ["links.csv"]),
        "params_out_of_range": lambda w, e, t: (
            {"--params": _write(t / "p.yaml", "evaluate:\n  candidates: 1\n")}, ["evaluate", "candidates"]),
    },
    "explore": {
        "truncated_model_npz": lambda w, e, t: (
            {"--models": _models_copy(e, t, f"l2/{PROJECTION_FILE}")}, [f"l2/{PROJECTION_FILE}"]),
        "links_outside_vocabulary": lambda w, e, t: ({"--links": _eval_links_outside(e, t)}, ["links.csv"]),
        "missing_image": lambda w, e, t: ({"--images": _images_without_a_file(e, t)}, ["gone.png"]),
        "default_model_not_shown": lambda w, e, t: (
            {"--params": _write(t / "p.yaml", "train: {models: [l2, iesg], l2: {}, iesg: {}}\n"
                                              "explore: {models: [l2], default_model: iesg}\n")},
            ["explore.default_model", "iesg"]),
    },
}


def _images_without_a_file(eval_world, tmp):
    images = pd.read_csv(eval_world["images"])
    images.loc[0, "path"] = str(tmp / "gone.png")
    images.to_csv(tmp / "images.csv", index=False)
    return tmp / "images.csv"


def _touch(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("stage, case", [(s, c) for s, cases in CASES.items() for c in cases])
def test_bad_input_fails_with_one_error_line_and_keeps_previous_outputs(stage, case, world, eval_world, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    overrides, names = CASES[stage][case](world, eval_world, bad)
    out = tmp_path / "out"
    before = write_sentinels(stage, out)
    inputs = {**stage_inputs(stage, world, eval_world), **overrides}
    result = run_script(stage, stage_args(stage, inputs, out), tmp_path)
    line = error_line(result)
    print(f"{stage}/{case}: {line}")
    for name in names:
        assert name in line, line
    assert snapshot(out) == before
    if stage == "map_images" and "zip" in case:  # nothing half-downloaded or half-unpacked in the cache
        left = sorted(p.name for p in (bad / "cache").rglob("*")) if (bad / "cache").exists() else []
        assert left == ([] if case == "download_bad_checksum" else ["tiny-imagenet-200.zip"]), left


def test_bad_input_cases_cover_every_stage_of_the_pipeline():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    assert set(CASES) == set(OUTPUTS) == set(stages)


# --------------------------------------------------------------------------- params, in process


PARAM_CASES = {  # section: (class, wrong type, unknown key, out of range), each with what the error must name
    "corpus": ("pipeline.corpus.params:CorpusParams", ({"words_per_line": "many"}, "corpus.words_per_line"),
               ({"word_per_line": 5}, "word_per_line"), ({"words_per_line": 20000}, "words_per_line")),
    "pretrain": ("pipeline.pretrain.params:PretrainParams", ({"epochs": 1.5}, "pretrain.epochs"),
                 ({"epoch": 2}, "epoch"), ({"sample": 1.5}, "sample")),
    "map_images": ("pipeline.images.params:MapImagesParams", ({"seed": "zero"}, "map_images.seed"),
                   ({"images": {"sorce": "packaged"}}, "map_images.images: unknown key(s) 'sorce' (did you mean 'source'?)"),
                   ({"split": {"train": 0.9, "val": 0.2, "test": 0.1}}, "map_images.split")),
    "features": ("pipeline.features.params:FeaturesParams", ({"threads": "all"}, "features.threads"),
                 ({"gpu": "cuda"}, "gpu"), ({"num_workers": -1}, "num_workers")),
    "train": ("pipeline.models.registry:load_train_config",
              ({"models": ["iesg"], "iesg": {"epochs": True}}, "train.iesg.epochs"),
              ({"models": ["iesg"], "l3": {"ridge": 1}}, "l3"),
              ({"models": ["iesg"], "iesg": {"momentum": 1.0}}, "momentum")),
    "evaluate": ("pipeline.evaluation.params:EvaluateParams", ({"ks": 5}, "evaluate.ks"),
                 ({"candidate": 10}, "candidate"), ({"ks": [1, 500]}, "ks")),
    "explore": ("pipeline.explorer.params:ExploreParams", ({"top_k": "many"}, "explore.top_k"),
                ({"topk": 5}, "topk"), ({"top_k": 0}, "top_k")),
}


@pytest.mark.parametrize("kind", ["wrong_type", "unknown_key", "out_of_range"])
@pytest.mark.parametrize("section", list(PARAM_CASES))
def test_every_section_refuses_bad_params_naming_the_key(section, kind, tmp_path):
    import importlib

    target, *cases = PARAM_CASES[section]
    module, name = target.split(":")
    loader = getattr(importlib.import_module(module), name)
    value, named = cases[["wrong_type", "unknown_key", "out_of_range"].index(kind)]
    path = write_params(tmp_path / "params.yaml", {section: value})
    with pytest.raises(PipelineError) as error:
        # The train section is one section per model, read by the registry; the others are one dataclass each.
        loader(str(path)) if section == "train" else load_section(loader, section, path)
    assert named in str(error.value) and f"params {section}" in str(error.value)


# --------------------------------------------------------------------------- interruption


WRITER = """
import sys, time
from pipeline.core.errors import run_stage
from pipeline.core.files import atomic_path

def main():
    with atomic_path(sys.argv[1]) as staged:
        staged.mkdir()
        (staged / "half.bin").write_bytes(b"new" * 1000)
        print("writing", flush=True)
        time.sleep(60)

run_stage(main)
"""


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_writer_killed_mid_write_leaves_the_previous_output(sig, tmp_path):
    from pipeline.core.files import atomic_path, remove_stale_temporaries

    target = tmp_path / "out" / "models"
    target.mkdir(parents=True)
    (target / "previous.txt").write_text("previous")
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    assert writer.stdout.readline() == "writing\n"
    temporaries = list(target.parent.glob(".models.*.tmp"))
    assert len(temporaries) == 1
    remove_stale_temporaries(target)  # its writer still runs: left alone
    assert temporaries[0].is_dir()
    writer.send_signal(sig)
    _, stderr = writer.communicate(timeout=30)
    assert sorted(p.name for p in target.iterdir()) == ["previous.txt"]
    if sig == signal.SIGTERM:
        assert writer.returncode == 130 and stderr.strip().splitlines()[-1].startswith("error: interrupted")
        assert not temporaries[0].exists()  # cleaned up at once
    else:
        assert writer.returncode == -signal.SIGKILL and temporaries[0].is_dir()  # nothing could clean up
    with atomic_path(target) as staged:  # the next run
        staged.mkdir()
        (staged / "done.txt").write_text("done")
    assert sorted(p.name for p in target.iterdir()) == ["done.txt"]
    assert sorted(p.name for p in target.parent.iterdir()) == ["models"]  # the stale temporary is gone


def _wait_for(condition, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, "the stage finished before it could be interrupted"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def _finals(out: Path) -> dict[str, bytes]:
    return {k: v for k, v in snapshot(out).items() if not k.split("/")[-1].startswith(".")
            and not any(part.startswith(".") for part in k.split("/"))}


def test_featurize_skips_a_bad_image_and_a_kill_mid_write_then_rerun_equals_an_uninterrupted_run(world, tmp_path):
    table = pd.read_csv(world["images"])
    cut = truncate(Path(table["path"][0]), tmp_path / "cut.JPEG", 0.4)
    table = pd.concat([table, pd.DataFrame([{"image_id": "x/cut", "path": str(cut)}])]).to_csv(
        tmp_path / "images.csv", index=False)
    params = _with_params(world, tmp_path, "features", {"batch_size": 1})
    out = tmp_path / "out"
    args = stage_args("featurize", {"--params": params, "--images": tmp_path / "images.csv"}, out)
    first = run_script("featurize", args, tmp_path)
    assert first.returncode == 0 and "Traceback" not in first.stderr, first.stderr
    # The one undecodable image: skipped, named on stderr, listed in the report, counted in the metrics.
    warnings = [line for line in first.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and str(cut) in warnings[0] and "x/cut" in warnings[0], first.stderr
    assert "24 images encoded, 1 skipped" in first.stdout
    report = json.loads((out / "report.json").read_text())
    assert [s["image_id"] for s in report["skipped"]] == ["x/cut"] and "Truncated" in report["skipped"][0]["error"]
    assert json.loads((out / "features.json").read_text())["skipped"] == 1
    finished = snapshot(out)

    stage = subprocess.Popen([sys.executable, str(REPO / "stages" / "featurize.py"), *map(str, args)], cwd=tmp_path,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for(lambda: any(out.glob(".features.h5.*.tmp/features.h5")), stage)
    time.sleep(0.1)  # a batch or two into the temporary HDF5
    stage.kill()
    stage.wait()
    assert stage.returncode == -signal.SIGKILL
    assert _finals(out) == finished  # a half-written HDF5 never sits at the final name
    assert list(out.glob(".features.h5.*.tmp/features.h5"))

    assert run_script("featurize", args, tmp_path).returncode == 0
    again = snapshot(out)
    assert sorted(again) == sorted(finished)  # the killed run's temporary was removed
    for name in ("report.json", "features.json"):
        assert again[name] == finished[name]
    with h5py.File(out / "features.h5") as h5, h5py.File(io.BytesIO(finished["features.h5"])) as before:
        assert list(h5["image_ids"][:]) == list(before["image_ids"][:])
        np.testing.assert_allclose(h5["features"][:], before["features"][:], rtol=1e-5, atol=1e-6)
        assert dict(h5.attrs) == dict(before.attrs)


def test_train_killed_mid_run_then_rerun_equals_an_uninterrupted_run(world, tmp_path):
    out = tmp_path / "out"
    args = stage_args("train", stage_inputs("train", world, {}), out)
    first = run_script("train", args, tmp_path)
    assert first.returncode == 0, first.stderr
    finished = snapshot(out)

    log = tmp_path / "stderr.txt"
    with open(log, "w") as stderr:
        stage = subprocess.Popen([sys.executable, str(REPO / "stages" / "train.py"), *map(str, args)], cwd=tmp_path,
                                 stdout=subprocess.DEVNULL, stderr=stderr)
        _wait_for(lambda: "iesg epoch 1" in log.read_text(), stage)  # training, nothing written yet
        stage.kill()
        stage.wait()
    assert stage.returncode == -signal.SIGKILL
    killed = snapshot(out)
    # The model is written whole or not at all; the dvclive log is live by design: it holds the epochs
    # the killed run got through (none or some, each row as the finished run wrote it).
    assert {k: v for k, v in killed.items() if k.startswith("models/")} == {
        k: v for k, v in finished.items() if k.startswith("models/")}
    for name in (k for k in killed if k.endswith(".tsv")):
        assert finished[name].startswith(killed[name]), name

    assert run_script("train", args, tmp_path).returncode == 0
    again = snapshot(out)
    assert sorted(again) == sorted(finished)
    assert {f"live/{LIVE_SUMMARY}", f"live/{LIVE_PLOTS}/metrics/val_p1.tsv", f"models/{PROJECTION_FILE}"} <= set(finished)
    for name in finished:
        assert again[name] == finished[name], name


# --------------------------------------------------------------------------- determinism


def test_map_images_a_new_seed_changes_only_the_split(world, tmp_path):
    """(The same seed giving byte-identical outputs: tests/images/test_images.py::test_stage_end_to_end.)"""
    params = _with_params(world, tmp_path, "map_images", {"seed": 1})
    other = tmp_path / "out"
    inputs = {**stage_inputs("map_images", world, {}), "--params": params}
    result = run_script("map_images", stage_args("map_images", inputs, other), tmp_path)
    assert result.returncode == 0, result.stderr
    same = world["root"]
    first, second = (pd.read_csv(out / "mapping" / "images.csv") for out in (same, other))
    assert first["image_id"].tolist() == second["image_id"].tolist()
    assert first["split"].tolist() != second["split"].tolist()
    assert first["split"].value_counts().to_dict() == second["split"].value_counts().to_dict()
    assert (same / "mapping" / "links.csv").read_bytes() == (other / "mapping" / "links.csv").read_bytes()


# --------------------------------------------------------------------------- downloads


PAYLOAD = bytes(range(256)) * 400


@pytest.fixture(scope="module")
def server():
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path not in ("/data.zip", "/truncated.zip"):
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD if self.path == "/data.zip" else PAYLOAD[: len(PAYLOAD) // 3])
            self.close_connection = True

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.mark.parametrize("case, expected", [
    ("bad_checksum", "does not match the expected"),
    ("truncated", "truncated"),
    ("missing", "404"),
])
def test_a_failed_download_leaves_nothing_behind_and_says_so(server, tmp_path, case, expected):
    from pipeline.core.files import download

    good = hashlib.sha256(PAYLOAD).hexdigest()
    url, sha = {"bad_checksum": (f"{server}/data.zip", "f" * 64), "truncated": (f"{server}/truncated.zip", good),
                "missing": (f"{server}/nowhere.zip", good)}[case]
    dest = tmp_path / "cache" / "data.zip"
    with pytest.raises(PipelineError) as error:
        download(url, dest, sha)
    assert url in str(error.value) and expected in str(error.value)
    assert list((tmp_path / "cache").iterdir()) == []
    assert download(f"{server}/data.zip", dest, good) == dest and dest.read_bytes() == PAYLOAD
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["data.zip"]
    dest.write_bytes(b"an older, different file")  # a failed download keeps what was there
    with pytest.raises(PipelineError):
        download(url, dest, sha)
    assert dest.read_bytes() == b"an older, different file"
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["data.zip"]
