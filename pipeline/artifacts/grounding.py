"""The one join of the mapping tables, the features and the vocabulary, which train and evaluate both read.

Rule: an image with features must be in images.csv (else the features are stale); a link to an image without
features (skipped by featurize) is dropped and counted; a link from an image with features to a word outside
the vocabulary breaks map_images' contract (it links vocabulary words only, so the tables and the vectors are
from different runs) and is an error, never a silent drop.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd
from gensim.models import KeyedVectors

from pipeline.artifacts.features import read_features
from pipeline.artifacts.tables import read_images, read_links
from pipeline.core.errors import PipelineError
from pipeline.models.base import GroundingData


@dataclass(frozen=True)
class Grounding:
    """The joined data (image rows in features-file order, links in links.csv order, words as vocabulary
    indices), each row's image id and path, and what was dropped: ``dropped_images`` (in images.csv without
    features), ``dropped_links`` (to an image without features)."""

    data: GroundingData
    image_ids: list[str]
    paths: list[str]
    dropped: dict[str, int]


def join_grounding(images: pd.DataFrame, links: pd.DataFrame, feature_ids: list[str], features: np.ndarray,
                   vocabulary: KeyedVectors, images_name: str = "images.csv", links_name: str = "links.csv",
                   features_name: str = "features.h5") -> Grounding:
    """Join the tables (as :mod:`pipeline.artifacts.tables` reads them), the features and the vocabulary."""
    table = images.set_index("image_id")
    unknown = [i for i in feature_ids if i not in table.index]
    if unknown:
        raise PipelineError(
            f"{features_name}: image {unknown[0]} is not in {images_name}; the features are stale, rerun featurize"
        )
    row_of = {image_id: row for row, image_id in enumerate(feature_ids)}
    image_row = links["image_id"].map(row_of)
    featurized = image_row.notna()
    word_index = links["word"].map(vocabulary.key_to_index)
    outside = sorted(set(links["word"][featurized & word_index.isna()]))
    if outside:
        raise PipelineError(
            f"{links_name}: {len(outside)} linked word(s) not in the word vectors (e.g. {outside[0]!r}); "
            "rerun map_images against the current vectors"
        )
    data = GroundingData(
        features=features,
        split=np.array(table.loc[feature_ids, "split"].tolist()),
        link_words=word_index[featurized].astype(np.int64).to_numpy(),
        link_images=image_row[featurized].astype(np.int64).to_numpy(),
    )
    if len(data.link_words) == 0:
        raise PipelineError(f"{links_name}: no link joins a featurized image to a vocabulary word")
    dropped = {"dropped_images": len(images) - len(feature_ids), "dropped_links": int((~featurized).sum())}
    return Grounding(data, list(feature_ids), table.loc[feature_ids, "path"].tolist(), dropped)


def read_grounding(images_csv: str | os.PathLike, links_csv: str | os.PathLike, features_h5: str | os.PathLike,
                   vocabulary: KeyedVectors) -> Grounding:
    """Read the tables and the features and join them with ``vocabulary``."""
    images, links = read_images(images_csv), read_links(links_csv)
    ids, features = read_features(features_h5)
    return join_grounding(images, links, ids, features, vocabulary,
                          str(images_csv), str(links_csv), str(features_h5))
