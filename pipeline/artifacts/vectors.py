"""Word vectors and the word2vec directory pretrain writes (``model``: gensim Word2Vec, ``vectors.kv``:
its KeyedVectors with each word's corpus ``count``); a model that learns word vectors writes a
``vectors.kv`` of the same vocabulary beside its projection."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from gensim.models import KeyedVectors, Word2Vec

from pipeline.artifacts.layout import VECTORS_FILE, WORD2VEC_MODEL_FILE
from pipeline.core.errors import PipelineError
from pipeline.core.files import atomic_path


def save_reproducibly(obj: Word2Vec | KeyedVectors, path: str | Path) -> None:
    """Save a gensim model or KeyedVectors so that equal vectors give byte-identical files.

    gensim stores the date, platform and Python version of every event (the save itself included)
    and a Word2Vec model's accumulated training seconds inside the file; both are cleared, since
    DVC would otherwise see a new artifact on every run. Training time is in the stage's summary.
    """
    obj.lifecycle_events = None
    if isinstance(obj, Word2Vec):
        obj.total_train_time = 0.0
    obj.save(str(path))


def write_word2vec(out_dir: str | os.PathLike, model: Word2Vec) -> None:
    """Write the word2vec directory (the model and its vectors) atomically."""
    with atomic_path(out_dir) as out:
        out.mkdir()
        save_reproducibly(model, out / WORD2VEC_MODEL_FILE)
        save_reproducibly(model.wv, out / VECTORS_FILE)


def read_vectors(path: str | os.PathLike) -> KeyedVectors:
    """Load gensim KeyedVectors saved with ``KeyedVectors.save``."""
    if not Path(path).is_file():
        raise PipelineError(f"{path}: file not found; run the stage that writes it")
    try:
        return KeyedVectors.load(str(path))
    except Exception as exc:  # gensim/pickle raise many types for a foreign or truncated file
        raise PipelineError(f"{path}: not loadable as gensim KeyedVectors ({exc})") from exc


def read_pretrained(word2vec_dir: str | os.PathLike) -> KeyedVectors:
    """The pretrained vectors of a word2vec directory."""
    return read_vectors(Path(word2vec_dir) / VECTORS_FILE)


def read_word2vec(path: str | os.PathLike) -> Word2Vec:
    """Load the gensim Word2Vec model file."""
    try:
        return Word2Vec.load(str(path))
    except Exception as exc:  # gensim/pickle raise many types for a foreign or truncated file
        raise PipelineError(f"{path}: cannot read the word2vec model ({exc}); rerun pretrain") from exc


def read_output_vectors(word2vec_dir: str | os.PathLike) -> np.ndarray:
    """word2vec's output vectors (``syn1neg``), row-aligned with the pretrained vectors."""
    return read_word2vec(Path(word2vec_dir) / WORD2VEC_MODEL_FILE).syn1neg


def with_vectors(vectors: KeyedVectors, rows: np.ndarray) -> KeyedVectors:
    """KeyedVectors of ``vectors``' vocabulary (and corpus counts) holding ``rows`` instead."""
    grounded = KeyedVectors(vectors.vector_size)
    grounded.add_vectors(vectors.index_to_key, rows)
    for word in vectors.index_to_key:
        grounded.set_vecattr(word, "count", vectors.get_vecattr(word, "count"))
    return grounded
