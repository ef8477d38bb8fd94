"""The features file featurize writes (HDF5): dataset ``features`` (float32, n x dim), dataset ``image_ids``
(utf-8, one per row) and the attributes ``encoder``, ``weights``, ``preprocessing`` (JSON) and ``dim``, and
``tta`` when the features were made with test-time augmentation (a file without it was made without)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import h5py
import numpy as np

from pipeline.core.errors import PipelineError


class FeatureWriter:
    """Append rows of features and their image ids to an open HDF5 file.

    Creates the resizable, chunked datasets ``features`` (float32, n x dim) and ``image_ids``
    (utf-8 strings); each :meth:`append` grows both by the rows given, so nothing is held in
    memory beyond the batch being written.
    """

    def __init__(self, h5: h5py.File, dim: int, chunk_rows: int) -> None:
        self.features = h5.create_dataset(
            "features", shape=(0, dim), maxshape=(None, dim), dtype="f4", chunks=(chunk_rows, dim)
        )
        self.image_ids = h5.create_dataset(
            "image_ids", shape=(0,), maxshape=(None,), dtype=h5py.string_dtype("utf-8"),
            chunks=(chunk_rows,),
        )
        self.rows = 0

    def append(self, image_ids: Sequence[str], features: np.ndarray) -> None:
        """Write ``features`` (len(image_ids) x dim) after the rows already written."""
        if len(image_ids) != len(features):
            raise ValueError(f"{len(image_ids)} ids for {len(features)} feature rows")
        end = self.rows + len(image_ids)
        self.features.resize(end, axis=0)
        self.image_ids.resize(end, axis=0)
        self.features[self.rows:end] = features
        self.image_ids[self.rows:end] = list(image_ids)
        self.rows = end


def write_attributes(h5: h5py.File, encoder: str, weights: str, preprocessing: str, dim: int, tta: str) -> None:
    """Record how the features were made: the encoder, its weights, its preprocessing (JSON), the dimension and
    the test-time augmentation (only when there is one, so that files made without it keep their bytes)."""
    h5.attrs["encoder"] = encoder
    h5.attrs["weights"] = weights
    h5.attrs["preprocessing"] = preprocessing
    h5.attrs["dim"] = dim
    if tta != "none":
        h5.attrs["tta"] = tta


def read_features(path: str | os.PathLike) -> tuple[list[str], np.ndarray]:
    """Read ``image_ids`` and ``features`` (n x D float32) from the featurize stage's HDF5."""
    if not Path(path).is_file():
        raise PipelineError(f"{path}: file not found; run the featurize stage")
    try:
        with h5py.File(path, "r") as h5:
            features = np.asarray(h5["features"][:], dtype=np.float32)
            ids = [i.decode() if isinstance(i, bytes) else str(i) for i in h5["image_ids"][:]]
    except (OSError, KeyError) as exc:
        raise PipelineError(
            f"{path}: not a features file with datasets 'features' and 'image_ids' ({exc}); "
            "rerun the featurize stage"
        ) from exc
    if features.ndim != 2 or len(ids) != len(features):
        raise PipelineError(f"{path}: 'features' must be (n, dim) with one image id per row")
    return ids, features


def read_encoder(path: str | os.PathLike) -> tuple[str, str, str]:
    """The ``encoder``, ``weights`` and ``tta`` attributes of a features file (``?`` for a missing encoder or
    weights, ``none`` for a missing tta)."""
    with h5py.File(path, "r") as h5:
        return (str(h5.attrs.get("encoder", "?")), str(h5.attrs.get("weights", "?")),
                str(h5.attrs.get("tta", "none")))
