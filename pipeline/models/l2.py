"""The paper's L2-distance baseline: ridge regression of word vectors on image features.

``W_p = argmin sum ||v - e_w||^2 + penalty ||W_p||^2`` over the training links, word vectors frozen,
solved in closed form.
"""

from __future__ import annotations

import numpy as np

from pipeline.models.base import (
    EpochCallback, EpochLog, EpochRecorder, GroundingData, Projection, Trained, TrainingInputs,
    prepare_features, training_center, validation_p1,
)
from pipeline.models.params import L2Params


def fit(data: GroundingData, word_vectors: np.ndarray, params: L2Params) -> Projection:
    """Closed-form ridge regression of word vectors on (prepared) image features over training links.

    Returns the :class:`Projection` minimising ``sum ||v - e_w||^2 + penalty ||W_p||^2`` with
    ``v = prepare(f) @ W_p`` and ``penalty = ridge * trace(F^T F) / D``.
    """
    words, images = data.training_links()
    dim = data.features.shape[1]
    center = training_center(data, params.normalize_features, params.center_features)
    features = prepare_features(data.features, params.normalize_features, center).astype(np.float64)
    image_ids, counts = np.unique(images, return_counts=True)
    gram = features[image_ids].T @ (features[image_ids] * counts[:, None])
    penalty = params.ridge * np.trace(gram) / dim
    target = features[images].T @ word_vectors[words].astype(np.float64)
    projection = np.linalg.solve(gram + penalty * np.eye(dim), target)
    return Projection(projection.astype(np.float32), center, params.normalize_features)


def train(
    inputs: TrainingInputs, params: L2Params, seed: int, on_epoch: EpochCallback | None = None,
) -> Trained:
    """The registry's entry: :func:`fit` on the pretrained vectors; one log row with its val P@1 (dot)."""
    words = inputs.vectors.vectors
    projection = fit(inputs.data, words, params)
    val = validation_p1(projection.project(inputs.data.features), words, inputs.data, "dot")
    log = EpochRecorder(on_epoch)
    log.add(EpochLog(1, float("nan"), float("nan"), val))
    return Trained(projection, None, log.entries, kept_epoch=1)
