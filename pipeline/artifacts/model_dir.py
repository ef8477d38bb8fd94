"""A trained model's directory (``data/models/<name>/``), written by its train stage: ``model.npz`` (the
projection), ``vectors.kv`` (only for a model that learns word vectors: the whole pretrained vocabulary,
``words: own`` in the npz) and ``train.json`` (the summary: val P@1, epochs, counts)."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from gensim.models import KeyedVectors

from pipeline.artifacts.layout import PROJECTION_FILE, SUMMARY_FILE, VECTORS_FILE
from pipeline.artifacts.vectors import read_vectors, save_reproducibly
from pipeline.core.errors import PipelineError
from pipeline.core.files import atomic_path, write_json
from pipeline.models.base import Projection


def write_model(out_dir: str | os.PathLike, projection: Projection, word_vectors: KeyedVectors | None,
                summary: dict[str, Any]) -> None:
    """Write the model directory atomically: the projection, the learnt word vectors (if any), the summary."""
    with atomic_path(out_dir) as out:
        out.mkdir()
        write_projection(out / PROJECTION_FILE, projection)
        if word_vectors is not None:
            save_reproducibly(word_vectors, out / VECTORS_FILE)
        write_json(out / SUMMARY_FILE, summary)


def read_trained(model_dir: str | os.PathLike, feature_dim: int,
                 pretrained: KeyedVectors) -> tuple[Projection, KeyedVectors]:
    """A train stage output: the projection and the word vectors it pairs with.

    Those are the ``vectors.kv`` beside it when the model learnt word vectors (``words: own``), else
    ``pretrained``; their vocabulary must be the pretrained one.
    """
    model_dir = Path(model_dir)
    word_dim = pretrained.vector_size
    projection = read_projection(model_dir / PROJECTION_FILE, feature_dim, word_dim)
    if projection.words == "pretrained":
        return projection, pretrained
    vectors = read_vectors(model_dir / VECTORS_FILE)
    if vectors.vector_size != word_dim or vectors.index_to_key != pretrained.index_to_key:
        raise PipelineError(
            f"{model_dir / VECTORS_FILE}: not the pretrained vocabulary at {word_dim} dimensions; rerun train"
        )
    return projection, vectors


def learnt_vectors_path(model_dir: str | os.PathLike) -> Path:
    """Where a model that learns word vectors keeps them (absent for one that does not)."""
    return Path(model_dir) / VECTORS_FILE


def read_train_summary(model_dir: str | os.PathLike) -> dict[str, Any]:
    """The summary a train stage wrote beside its model."""
    path = Path(model_dir) / SUMMARY_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PipelineError(f"{path}: cannot read the train summary ({exc}); rerun train") from exc


def projection_shape(path: str | os.PathLike) -> tuple[tuple[int, ...], str]:
    """The projection's shape and its ``words`` side, read without the shape checks (for ``iesg status``)."""
    with np.load(path, allow_pickle=False) as npz:
        return npz["projection"].shape, str(npz["words"])


def write_projection(path: str | os.PathLike, projection: Projection) -> None:
    """Write a projection's npz; the same arrays give the same bytes (unlike ``np.savez``, no time is stored)."""
    arrays = {
        "projection": projection.projection.astype(np.float32), "center": projection.center.astype(np.float32),
        "normalize_features": np.array(projection.normalize_features), "words": np.array(projection.words),
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, array, allow_pickle=False)
            archive.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)), buffer.getvalue())



def read_projection(path: str | os.PathLike, feature_dim: int, word_dim: int) -> Projection:
    """Read a model npz, checking its shapes against the features (D) and the word vectors (d)."""
    if not Path(path).is_file():
        raise PipelineError(f"{path}: file not found; run the train stage")
    try:
        with np.load(path, allow_pickle=False) as npz:
            projection = np.asarray(npz["projection"], dtype=np.float32)
            center = np.asarray(npz["center"], dtype=np.float32)
            words = str(npz["words"])
            normalize = bool(npz["normalize_features"])
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise PipelineError(
            f"{path}: not a model npz with 'projection', 'center', 'normalize_features' and 'words' ({exc}); "
            "rerun train"
        ) from exc
    if words not in ("pretrained", "own"):
        raise PipelineError(f"{path}: words={words!r}, expected 'pretrained' or 'own'; rerun train")
    if projection.shape != (feature_dim, word_dim) or center.shape != (feature_dim,):
        raise PipelineError(
            f"{path}: projection {projection.shape} / center {center.shape} do not match the features "
            f"({feature_dim}-d) and the word vectors ({word_dim}-d); rerun train on the current features and vectors"
        )
    return Projection(projection, center, normalize, words)  # type: ignore[arg-type]


