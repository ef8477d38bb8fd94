"""Every file the Python API and the ``iesg`` commands read: where a run keeps it and how it is read.

This is the one place the API (:mod:`pipeline.api`) and the CLI (:mod:`pipeline.cli`) touch the
artifacts of a run; everything else asks these functions. The paths and readers are the pipeline's own
(:mod:`pipeline.artifacts`), so a run reads here as the evaluate stage reads it.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from gensim.models import KeyedVectors

from pipeline.artifacts import layout, tables
from pipeline.artifacts.features import read_encoder
from pipeline.artifacts.grounding import read_grounding
from pipeline.artifacts.layout import Artifact
from pipeline.artifacts import headline
from pipeline.artifacts.model_dir import learnt_vectors_path, read_train_summary, read_trained
from pipeline.artifacts.vectors import read_vectors
from pipeline.core.errors import PipelineError
from pipeline.core.params import load_section, read_params
from pipeline.evaluation.params import EvaluateParams
from pipeline.evaluation.protocol import MatchingData, matching_data
from pipeline.models.base import Projection

# The artifacts the API and the CLI read, each a --name flag of the commands that read it.
ARTIFACTS: dict[str, Artifact] = {name: layout.ARTIFACTS[name] for name in (
    "corpus", "word2vec", "vectors", "images", "links", "unmapped", "image_files", "features", "models", "report",
    "metrics", "headline", "explorer", "params", "dvc_yaml")}


@dataclass(frozen=True)
class RunPaths:
    """Where each artifact of one run is: the :data:`ARTIFACTS` paths below ``root`` unless given."""

    root: Path
    corpus: Path
    word2vec: Path
    vectors: Path
    images: Path
    links: Path
    unmapped: Path
    image_files: Path
    features: Path
    models: Path
    report: Path
    metrics: Path
    headline: Path
    explorer: Path
    params: Path
    dvc_yaml: Path

    @classmethod
    def at(cls, root: str | os.PathLike = ".", **paths: str | os.PathLike) -> RunPaths:
        """The paths of a run at ``root``; ``paths`` (artifact name -> path) override the defaults, relative
        to ``root`` unless absolute."""
        unknown = sorted(set(paths) - set(ARTIFACTS))
        if unknown:
            raise PipelineError(f"unknown artifact(s) {', '.join(unknown)}; known: {', '.join(ARTIFACTS)}")
        root = Path(root)
        return cls(root=root, **{name: root / paths.get(name, artifact.path) for name, artifact in ARTIFACTS.items()})

    def model_dir(self, name: str) -> Path:
        """The train stage's output directory of model ``name``."""
        return self.models / name


assert [f.name for f in fields(RunPaths)] == ["root", *ARTIFACTS], "RunPaths must list every artifact"


# ----------------------------------------------------------------------------- params

def read_trained_names(paths: RunPaths) -> list[str]:
    """``train.models`` of the params file: the models the train stages wrote."""
    names = read_params(paths.params).get("train", {}).get("models")
    if not isinstance(names, list) or not names:
        raise PipelineError(f"{paths.params}: train.models is missing or empty; list the trained models there")
    return [str(name) for name in names]


def read_evaluate_params(paths: RunPaths) -> EvaluateParams:
    """The ``evaluate`` section (its defaults when the params file has none)."""
    if "evaluate" not in read_params(paths.params):
        return EvaluateParams()
    return load_section(EvaluateParams, "evaluate", paths.params)


# ----------------------------------------------------------------------------- mapping, features, vectors

def read_pretrained(paths: RunPaths) -> KeyedVectors:
    """The pretrain stage's word vectors."""
    return read_vectors(paths.vectors)


def read_links(paths: RunPaths) -> pd.DataFrame:
    """links.csv: ``word``, ``image_id``."""
    return tables.read_links(paths.links)


def read_images(paths: RunPaths) -> pd.DataFrame:
    """images.csv: ``image_id``, ``path``, ``split`` (and ``wnid`` from map_images)."""
    return tables.read_images(paths.images)


def read_matching_data(paths: RunPaths, pretrained: KeyedVectors) -> MatchingData:
    """The images with features, the mapped words and their links, joined as the evaluate stage joins them."""
    return matching_data(read_grounding(paths.images, paths.links, paths.features, pretrained), pretrained)


def read_wordnet(paths: RunPaths) -> Any:
    """WordNet 3.0 (nltk's reader) where map_images found it (``map_images.wordnet_dir``, else the system WordNet
    copied into the run's WordNet cache)."""
    from pipeline.images.params import MapImagesParams
    from pipeline.images.wordnet import load_wordnet  # nltk: imported only by the commands that need it

    params = load_section(MapImagesParams, "map_images", paths.params)
    wordnet_dir = None if params.wordnet_dir is None else paths.root / params.wordnet_dir
    return load_wordnet(wordnet_dir, layout.ARTIFACTS["wordnet_cache"].at(paths.root))


# ----------------------------------------------------------------------------- trained models

def read_model(paths: RunPaths, name: str, feature_dim: int,
               pretrained: KeyedVectors) -> tuple[Projection, KeyedVectors]:
    """Model ``name``'s projection and the word vectors it is scored against (its own or the pretrained)."""
    return read_trained(paths.model_dir(name), feature_dim, pretrained)


def learnt_vectors_file(paths: RunPaths, name: str) -> Path:
    """Where model ``name`` keeps the word vectors it learnt (absent for a model that learns none)."""
    return learnt_vectors_path(paths.model_dir(name))


def learns_word_vectors(paths: RunPaths, name: str) -> bool:
    """Whether model ``name`` wrote word vectors of its own."""
    return learnt_vectors_file(paths, name).is_file()


def read_learnt_vectors(paths: RunPaths, name: str, pretrained: KeyedVectors) -> KeyedVectors:
    """The word vectors model ``name`` learnt, checked to be the pretrained vocabulary and dimension."""
    path = learnt_vectors_file(paths, name)
    vectors = read_vectors(path)
    if vectors.vector_size != pretrained.vector_size or vectors.index_to_key != pretrained.index_to_key:
        raise PipelineError(f"{path}: not the pretrained vocabulary at {pretrained.vector_size} dimensions; "
                            "rerun train")
    return vectors


def read_val_p1(paths: RunPaths, name: str) -> float:
    """The validation P@1 (full ranking, kept epoch) that model ``name``'s train stage wrote to train.json."""
    summary = read_train_summary(paths.model_dir(name))
    try:
        return float(summary["val_p1"])
    except (ValueError, KeyError, TypeError) as exc:
        raise PipelineError(f"{paths.model_dir(name) / layout.SUMMARY_FILE}: cannot read the validation P@1 "
                            f"({exc!r}); rerun train") from exc


# ----------------------------------------------------------------------------- image files

def featurize_image_file(paths: RunPaths, image: Path) -> np.ndarray:
    """The feature vector of an image file by the ``features`` encoder and test-time augmentation of the params
    file.

    They must be the ones that made features.h5, or the models' projections do not apply.
    """
    from pipeline.features.encoders import load_encoder  # torch: seconds to import, only needed here
    from pipeline.features.featurize import encode_batches
    from pipeline.features.params import FeaturesParams

    params = load_section(FeaturesParams, "features", paths.params)
    made_by = read_encoder(paths.features)
    if made_by != (params.encoder, params.weights, params.tta):
        raise PipelineError(
            f"{paths.params}: features.encoder/weights/tta are {params.encoder}/{params.weights}/{params.tta} but "
            f"{paths.features} was made with {'/'.join(made_by)}; rerun featurize and train"
        )
    weights_path = params.weights_path and paths.root / params.weights_path  # as the stage, run at the root
    encoder = load_encoder(params.encoder, params.weights, params.seed, weights_path)
    ((_, features, failed),) = list(
        encode_batches(encoder, [str(image)], batch_size=1, num_workers=0, tta=params.tta)
    )
    if failed:
        raise PipelineError(f"{image}: cannot read it as an image ({failed[0][1]}); give a PNG/JPEG/WebP file")
    return features[0]


def resolved_image_files(paths: RunPaths, image_paths: list[str]) -> dict[Path, int]:
    """Each mapped image's file (images.csv paths start at the run's root), resolved -> its row."""
    return {(paths.root / path).resolve(): row for row, path in enumerate(image_paths)}


# ----------------------------------------------------------------------------- headline metrics, experiments

def read_headline(paths: RunPaths) -> dict[str, dict[str, float]]:
    """The workspace's headline metrics: file name (a model, or ``pretrained``) -> its numbers."""
    return headline.read_headline(paths.headline)


def read_experiments(paths: RunPaths, revisions: int, all_commits: bool) -> list[dict[str, Any]]:
    """``dvc exp show --json`` in the run's root: the workspace, the last ``revisions`` commits (every commit
    with ``all_commits``) and their experiments, as DVC lists them."""
    command = ["dvc", "exp", "show", "--json", *(["-A"] if all_commits else ["-n", str(revisions)])]
    try:
        done = subprocess.run(command, cwd=paths.root, capture_output=True, text=True,
                              env={**os.environ, "DVC_NO_ANALYTICS": "1"})
    except FileNotFoundError as exc:
        raise PipelineError("dvc: command not found; install the project (bash setup.sh --no-run) or give "
                            "--workspace") from exc
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise PipelineError(f"{paths.root}: dvc exp show failed ({last}); run it in a DVC project or give --workspace")
    try:
        return json.loads(done.stdout)
    except ValueError as exc:
        raise PipelineError(f"{paths.root}: dvc exp show --json printed no JSON ({exc})") from exc


# ----------------------------------------------------------------------------- report

def redraw_report(paths: RunPaths, out: Path) -> Path:
    """Redraw the evaluate stage's report from the data kept beside it and the plots of dvc.yaml into ``out``;
    its index.html."""
    from pipeline.evaluation.plots import read_plot_specs
    from pipeline.evaluation.report import rebuild_report

    return rebuild_report(paths.report, out, paths.root, read_plot_specs(paths.dvc_yaml))


# ----------------------------------------------------------------------------- status

def artifact_files(path: Path) -> list[Path]:
    """The files of an artifact: itself, or every file below a directory."""
    return [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
