"""Reading the stage artifacts that the train and evaluate stages share into index arrays."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pandas as pd
from gensim.models import KeyedVectors
from tqdm import tqdm

from pipeline.errors import PipelineError
from pipeline.model import GroundingData


def load_vectors(path: str | Path) -> KeyedVectors:
    """Load gensim KeyedVectors; a missing or unreadable file is a :class:`PipelineError`."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: word vectors not found; run the pretrain stage first")
    try:
        return KeyedVectors.load(str(path))
    except Exception as exc:  # gensim raises many kinds on a damaged pickle or .npy
        raise PipelineError(f"{path}: cannot read the word vectors ({exc}); rerun the pretrain stage") from exc


def read_table(path: str | Path, columns: list[str]) -> pd.DataFrame:
    """Read a CSV that must have ``columns`` (as strings); clear errors when missing or malformed."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: not found; run the map_images stage first")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise PipelineError(f"{path}: not a readable CSV ({exc}); rerun the map_images stage") from exc
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise PipelineError(f"{path}: missing column(s) {', '.join(missing)}; rerun the map_images stage")
    return table


def read_features(path: str | Path) -> tuple[np.ndarray, list[str]]:
    """``(features (n, D) float32, image_ids)`` from the featurize stage's HDF5 file."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: not found; run the featurize stage first")
    try:
        with h5py.File(path, "r") as handle:
            features = handle["features"][:].astype(np.float32)
            ids = [x.decode() if isinstance(x, bytes) else str(x) for x in handle["image_ids"][:]]
    except (OSError, KeyError) as exc:
        raise PipelineError(f"{path}: not a readable features file ({exc}); rerun the featurize stage") from exc
    if len(ids) != len(features):
        raise PipelineError(f"{path}: {len(ids)} image ids for {len(features)} feature rows; rerun featurize")
    return features, ids


def load_grounding_data(images_csv: str | Path, links_csv: str | Path, features_h5: str | Path,
                        vectors: KeyedVectors) -> tuple[GroundingData, list[str], dict[str, int]]:
    """Join the mapping tables, the features and the vocabulary into :class:`GroundingData`.

    Images without a feature row (skipped by featurize) and links to words outside the vocabulary
    are dropped; how many is returned in the counts dict (``dropped_images``, ``dropped_links``).

    Returns
    -------
    (GroundingData, list of str, dict)
        The data (image rows in features.h5 order), the image ids of those rows, and the counts.
    """
    images = read_table(images_csv, ["image_id", "split"])
    links = read_table(links_csv, ["word", "image_id"])
    features, ids = read_features(features_h5)
    split_of = dict(zip(images["image_id"], images["split"]))
    unknown = [i for i in ids if i not in split_of]
    if unknown:
        raise PipelineError(
            f"{features_h5}: image {unknown[0]} is not in {images_csv}; the features are stale, rerun featurize"
        )
    row_of = {image_id: row for row, image_id in enumerate(ids)}
    word_index = links["word"].map(vectors.key_to_index)
    image_row = links["image_id"].map(row_of)
    keep = word_index.notna() & image_row.notna()
    data = GroundingData(
        features=features,
        split=np.array([split_of[i] for i in ids]),
        link_words=word_index[keep].astype(np.int64).to_numpy(),
        link_images=image_row[keep].astype(np.int64).to_numpy(),
    )
    if len(data.link_words) == 0:
        raise PipelineError(f"{links_csv}: no link joins a featurized image to a vocabulary word")
    counts = {"dropped_images": len(images) - len(ids), "dropped_links": int((~keep).sum())}
    return data, ids, counts


def encode_corpus(path: str | Path, key_to_index: dict[str, int]) -> np.ndarray:
    """The corpus file as an int64 array of vocabulary indices, -1 for out-of-vocabulary tokens."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: corpus not found; run the fetch_corpus stage first")
    chunks = []
    with open(path, encoding="utf-8") as handle, tqdm(
        total=path.stat().st_size, unit="B", unit_scale=True, desc="encode corpus", mininterval=1
    ) as bar:
        for line in handle:
            chunks.append(np.fromiter((key_to_index.get(w, -1) for w in line.split()), dtype=np.int64))
            bar.update(len(line.encode()))
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64)
