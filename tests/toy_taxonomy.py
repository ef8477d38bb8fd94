"""A toy WordNet taxonomy with images, features and word vectors: the evaluate stage's inputs, written by
:func:`write_fixture` and run by :func:`run_stage` (tests of the protocol, the model choice and hardening)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
from gensim.models import KeyedVectors
from PIL import Image

from pipeline.artifacts.layout import PROJECTION_FILE, SUMMARY_FILE, VECTORS_FILE
from pipeline.artifacts.model_dir import write_projection
from pipeline.artifacts.training_log import TrainingLog
from pipeline.models.base import EpochLog, Projection

REPO = Path(__file__).resolve().parents[1]

# A tiny noun taxonomy: synset -> (lemmas, hypernym).
TAXONOMY = {
    "entity": (["entity"], None),
    "animal": (["animal", "beast"], "entity"),
    "dog": (["dog"], "animal"),
    "puppy": (["puppy"], "dog"),
    "cat": (["cat"], "animal"),
    "kitten": (["kitten"], "cat"),
    "vehicle": (["vehicle"], "entity"),
    "car": (["car", "auto"], "vehicle"),
    "truck": (["truck"], "vehicle"),
    "food": (["food"], "entity"),
    "apple": (["apple"], "food"),
    "bread": (["bread"], "food"),
}
IMAGE_SYNSETS = ["dog", "puppy", "cat", "kitten", "car", "truck", "apple", "bread"]
SPLITS = ["train", "train", "val", "test"]
HEADER = "  1 This software and database is being provided to you, the LICENSEE. WordNet 3.0 Copyright 2006 by Princeton University.\n"


def write_wordnet(root: Path) -> dict[str, int]:
    """Write a WordNet 3.0-format dict directory holding TAXONOMY; return synset -> offset."""
    root.mkdir(parents=True)
    keys = list(TAXONOMY)
    hyponyms = {k: [c for c, (_, parent) in TAXONOMY.items() if parent == k] for k in keys}

    def line(key: str, offsets: dict[str, int]) -> str:
        lemmas, parent = TAXONOMY[key]
        pointers = ([f"@ {offsets[parent]:08d} n 0000"] if parent else []) + [
            f"~ {offsets[c]:08d} n 0000" for c in hyponyms[key]
        ]
        words = " ".join(f"{lemma} 0" for lemma in lemmas)
        return (f"{offsets[key]:08d} 03 n {len(lemmas):02x} {words} {len(pointers):03d} "
                f"{' '.join(pointers)} | a {key}  \n")

    offsets = dict.fromkeys(keys, 0)
    position = len(HEADER.encode())
    for key in keys:  # every field is fixed width, so lengths do not depend on the offsets
        offsets[key] = position
        position += len(line(key, offsets).encode())
    (root / "data.noun").write_text(HEADER + "".join(line(k, offsets) for k in keys))
    index: dict[str, list[str]] = {}
    for key in keys:
        for lemma in TAXONOMY[key][0]:
            index.setdefault(lemma, []).append(key)
    (root / "index.noun").write_text("".join(
        f"{lemma} n {len(ks)} 1 @ {len(ks)} 0 {' '.join(f'{offsets[k]:08d}' for k in ks)}  \n"
        for lemma, ks in sorted(index.items())
    ))
    for pos in ("verb", "adj", "adv"):
        (root / f"data.{pos}").write_text(HEADER)
        (root / f"index.{pos}").write_text("")
    for pos in ("noun", "verb", "adj", "adv"):
        (root / f"{pos}.exc").write_text("")
    return offsets


def ancestors(key: str) -> list[str]:
    chain = []
    while key is not None:
        chain.append(key)
        key = TAXONOMY[key][1]
    return chain


def write_fixture(root: Path, seed: int = 0) -> dict[str, Path]:
    """Every stage input of evaluate, built to the data contracts, plus a params file."""
    rng = np.random.default_rng(seed)
    offsets = write_wordnet(root / "wordnet")
    vocabulary = [lemma for key, (lemmas, _) in TAXONOMY.items() if key != "entity" for lemma in lemmas]
    vocabulary += ["tiger", "house", "king", "queen", "man", "woman"]
    dim_word, dim_image = 8, 12
    word_vectors = rng.standard_normal((len(vocabulary), dim_word)).astype(np.float32)
    pretrained = KeyedVectors(dim_word)
    pretrained.add_vectors(vocabulary, word_vectors)
    for i, word in enumerate(vocabulary):
        pretrained.set_vecattr(word, "count", int(10 ** (1 + i % 5)))
    # IESG's vectors are far from the pretrained ones, so a model scored against the wrong side shows.
    iesg = KeyedVectors(dim_word)
    iesg.add_vectors(vocabulary, 0.6 * word_vectors + 0.8 * rng.standard_normal(word_vectors.shape).astype(np.float32))
    for word in vocabulary:
        iesg.set_vecattr(word, "count", pretrained.get_vecattr(word, "count"))
    paths = {name: root / rel for name, rel in {
        "images": "mapping/images.csv", "links": "mapping/links.csv", "features": "features/features.h5",
        "vectors": f"word2vec/{VECTORS_FILE}", "models": "models", "iesg_vectors": f"models/iesg/{VECTORS_FILE}",
        "train_logs": "train_logs", "params": "params.yaml",
    }.items()}
    for path in paths.values():
        (path if path.suffix == "" else path.parent).mkdir(parents=True, exist_ok=True)
    pretrained.save(str(paths["vectors"]))
    iesg.save(str(paths["iesg_vectors"]))

    (root / "images").mkdir()
    rows, links, feats = [], [], []
    mixing = rng.standard_normal((dim_word, dim_image)).astype(np.float32)
    for s, synset in enumerate(IMAGE_SYNSETS):
        for j, split in enumerate(SPLITS):
            image_id = f"toy/{synset}-{j}"
            image_path = root / "images" / f"{synset}-{j}.png"
            Image.new("RGB", (20, 14), (30 * s, 60 * j, 120)).save(image_path)
            rows.append({"image_id": image_id, "path": str(image_path), "wnid": f"n{offsets[synset]:08d}",
                         "split": split, "source": "toy"})
            words = [w for key in ancestors(synset) for w in TAXONOMY[key][0] if w in vocabulary]
            links += [{"word": w, "image_id": image_id} for w in words]
            feats.append(pretrained[synset] @ mixing + 0.1 * rng.standard_normal(dim_image))
    pd.DataFrame(rows).to_csv(paths["images"], index=False)
    pd.DataFrame(links).to_csv(paths["links"], index=False)
    features = np.asarray(feats, dtype=np.float32)
    with h5py.File(paths["features"], "w") as h5:
        h5.create_dataset("features", data=features)
        h5.create_dataset("image_ids", data=[r["image_id"] for r in rows], dtype=h5py.string_dtype("utf-8"))
        h5.attrs.update({"encoder": "toy", "weights": "none", "preprocessing": "{}", "dim": dim_image})
    center = features.mean(axis=0)
    shown = [synset for synset in IMAGE_SYNSETS for _ in SPLITS]
    fitted = {side: np.linalg.lstsq(features - center, vectors[shown], rcond=None)[0]
              for side, vectors in (("pretrained", pretrained), ("iesg", iesg))}
    for name, projection, words in (("iesg", fitted["iesg"], "own"), ("l2", fitted["pretrained"], "pretrained"),
                                    ("devise", rng.standard_normal(fitted["iesg"].shape), "pretrained")):
        (paths["models"] / name).mkdir(exist_ok=True)
        write_projection(paths["models"] / name / PROJECTION_FILE,
                         Projection(projection.astype(np.float32), center, False, words))
        (paths["models"] / name / SUMMARY_FILE).write_text(json.dumps({"val_p1": 0.5}))
        live = TrainingLog(paths["train_logs"] / name)
        epochs = [EpochLog(e, float("nan") if name == "l2" else 1.0, 0.5, e / 10) for e in (1, 2)]  # L2: no loss
        for entry in epochs:
            live(entry)
        live.finish(epochs[-1])
    paths["params"].write_text(
        "train:\n  models: [l2, iesg, devise]\n  l2: {}\n  iesg: {}\n  devise: {}\n"
        "evaluate:\n  candidates: 6\n  seed: 1\n  ks: [1, 2, 5]\n  frequency_edges: [100, 10000]\n"
        "  sparsity_max_count: 20\n  n_examples: 3\n  top_examples: 4\n  thumbnail_px: 16\n"
        "  analogy_restrict_vocab: 100\n  bootstrap_resamples: 50\n  headline_spaces: [pretrained, iesg]\n"
        f"  wordnet_dir: {root / 'wordnet'}\n"
    )
    return paths


def run_stage(paths: dict[str, Path], out: Path, **overrides: Path) -> subprocess.CompletedProcess:
    arguments = {**paths, **overrides}
    command = [sys.executable, str(REPO / "stages/evaluate.py")]
    for name in ("images", "links", "features", "vectors", "models", "train_logs", "params"):
        command += [f"--{name.replace('_', '-')}", str(arguments[name])]
    command += ["--metrics", str(out / "headline"), "--details", str(out / "metrics.json"), "--plots", str(out / "plots"),
                "--report", str(out / "report"), "--wordnet-cache", str(out / "cache"),
                "--dvc-yaml", ""]  # its plots are not at dvc.yaml's paths
    return subprocess.run(command, capture_output=True, text=True, cwd=out)
