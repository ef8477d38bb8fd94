"""A DeViSE-style ranking baseline (Frome et al. 2013).

``W_p`` is trained with ``max(0, margin - t_w . v + t_w' . v)`` over the training links, ``t`` the
unit-normalised frozen pretrained word vectors and ``w'`` mapped words not linked to the image.
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm import tqdm

from pipeline.models.base import (
    EarlyStopping, EpochCallback, EpochLog, EpochRecorder, Projection, Trained, TrainingInputs, unit_rows,
    validation_p1,
)
from pipeline.models.params import DeviseParams


def train(
    inputs: TrainingInputs, params: DeviseParams, seed: int, on_epoch: EpochCallback | None = None,
) -> Trained:
    """Train the ranking projection on the training links (word vectors frozen, raw features).

    The per-epoch validation P@1 ranks by dot product with the unit-normalised word vectors, as
    DeViSE does.
    """
    data = inputs.data
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    words, images = data.training_links()
    mapped = data.mapped_words()
    unit_words = unit_rows(inputs.vectors.vectors)
    targets = torch.from_numpy(unit_words.astype(np.float32))
    linked = set(zip(images.tolist(), words.tolist()))
    dim_in = data.features.shape[1]
    center = np.zeros(dim_in, dtype=np.float32)
    features = torch.from_numpy(data.features.astype(np.float32))
    projection = (torch.randn(dim_in, unit_words.shape[1]) / np.sqrt(dim_in)).requires_grad_(True)
    optimiser = torch.optim.SGD([projection], lr=params.lr, momentum=params.momentum)
    log = EpochRecorder(on_epoch)
    keep = EarlyStopping(0)
    for epoch in range(1, params.epochs + 1):
        order = rng.permutation(len(words))
        negatives = mapped[rng.integers(0, len(mapped), (len(order), params.negatives))]
        clash = np.array([[(images[o], w) in linked for w in row] for o, row in zip(order, negatives)])
        total, active, hinges = 0.0, 0, 0
        for start in tqdm(range(0, len(order), params.batch_size), desc=f"devise epoch {epoch}",
                          unit="batch", mininterval=1):
            rows = order[start:start + params.batch_size]
            v = features[images[rows]] @ projection
            positive = (v * targets[words[rows]]).sum(1, keepdim=True)
            negative = torch.einsum("nd,nkd->nk", v, targets[negatives[start:start + params.batch_size]])
            raw = params.margin - positive + negative
            raw = raw.masked_fill(torch.from_numpy(clash[start:start + params.batch_size]), -1.0)
            loss = raw.clamp(min=0).sum(1)
            optimiser.zero_grad()
            loss.mean().backward()
            optimiser.step()
            total += float(loss.detach().sum())
            active += int((raw > 0).sum())
            hinges += raw.numel()
        current = projection.detach().numpy().copy()
        val = validation_p1(features.numpy() @ current, unit_words, data, "dot")
        log.add(EpochLog(epoch, total / len(order), active / max(hinges, 1), val))
        keep.update(epoch, val, current)
    return Trained(Projection(keep.best_state, center), None, log.entries, kept_epoch=keep.best_epoch)
