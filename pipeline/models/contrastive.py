"""Contrastive grounding: the image projection trained with a symmetric, masked InfoNCE loss.

A batch of training images is projected, ``v = (prepare(f) - center) @ W``, and scored against the
mapped words (every word with a link) with a learnable temperature, ``logit = s * E(v, t)``
(``s = 1 / temperature``, ``E`` the cosine or the inner product). Two directions, averaged:

- image -> word: each image against every mapped word;
- word -> image: each word linked to an image of the batch against the images of the batch.

Both are multi-positive: for a link ``(image, word)`` the loss is
``-log(exp(l_iw) / (exp(l_iw) + sum_n exp(l_in)))`` where the negatives ``n`` exclude every other
positive, so an image's other linked words (its hypernyms, ``dog`` and ``animal`` beside ``beagle``)
are never its negatives, and images that share a word are never negatives for that word
(:func:`masked_info_nce`). The loss is averaged over the links of the batch (``multi_positive: per_link``) or over
each image's links first, then the images (``per_image``).

Words are either frozen (the pretrained space, what zero-shot needs) or learnable (grounded); the
learnable rows are pulled toward their pretrained vectors by ``anchor * mean ||t - t_0||^2``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
import torch
from scipy.special import gammaln
from tqdm import tqdm

from pipeline.models import l2
from pipeline.core.params import checked
from pipeline.models.base import (
    EarlyStopping, EpochCallback, EpochLog, EpochRecorder, GroundingData, Projection, Trained,
    TrainingInputs, energy_matrix, prepare_features, training_center, validation_p1,
)
from pipeline.models.params import MAX_SCALE, ContrastiveParams, ImageLossParams

# --------------------------------------------------------------------------------------------
# The loss


def masked_info_nce(logits: torch.Tensor, positive: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Multi-positive InfoNCE of each row's positives against the row's non-positive columns.

    For every positive ``(r, c)``: ``log(exp(l_rc) + sum_{j not positive in r} exp(l_rj)) - l_rc``;
    the other positives of row ``r`` are never in the denominator. A positive with no negative in
    its row costs 0.

    Parameters
    ----------
    logits : Tensor (n, m)
    positive : bool Tensor (n, m)

    Returns
    -------
    (Tensor, int)
        The summed loss over the positives (a scalar) and their number.
    """
    return positive_pair_losses(logits, positive).sum(), int(positive.sum())


def positive_pair_losses(logits: torch.Tensor, positive: torch.Tensor) -> torch.Tensor:
    """The (n, m) loss of every positive against its row's non-positives (0 off the positives)."""
    negatives = logits.masked_fill(positive, -math.inf)
    negative_lse = torch.logsumexp(negatives, dim=1, keepdim=True)  # -inf where a row has no negative
    per_pair = torch.logaddexp(logits, negative_lse) - logits
    return torch.where(positive, per_pair, torch.zeros_like(per_pair))


def unit_rows_torch(matrix: torch.Tensor) -> torch.Tensor:
    """Rows scaled to unit length, differentiably: the ``unit`` of :func:`~pipeline.models.base.energy_matrix`
    for torch tensors."""
    return torch.nn.functional.normalize(matrix, dim=1)


def per_row_info_nce(logits: torch.Tensor, positive: torch.Tensor) -> tuple[torch.Tensor, int]:
    """:func:`masked_info_nce` averaged within each row first: every row with a positive weighs the same,
    however many positives it has.

    Returns
    -------
    (Tensor, int)
        The sum over rows with a positive of their mean positive loss, and the number of those rows.
    """
    per_pair = positive_pair_losses(logits, positive)
    counts = positive.sum(1)
    rows = counts > 0
    return (per_pair.sum(1)[rows] / counts[rows]).sum(), int(rows.sum())


MultiPositiveLoss = Literal["per_link", "per_image"]


def symmetric_loss(
    logits: torch.Tensor, positive: torch.Tensor, multi_positive: MultiPositiveLoss = "per_link",
) -> tuple[torch.Tensor, float]:
    """Mean of the image -> word and word -> image masked InfoNCE losses of one batch.

    ``logits`` and ``positive`` are (batch images, mapped words). Image -> word ranks every column
    for each image; word -> image ranks the batch's images for each word linked to one of them.
    ``multi_positive``: ``per_link`` averages both directions over the links (an image with more
    links weighs more); ``per_image`` averages each image's (each word's) positives first, then
    the images (the words) of each direction.

    Returns
    -------
    (Tensor, float)
        The loss and the share of batch images whose top-scored word is one of theirs.
    """
    present = positive.any(0)
    hits = positive.gather(1, logits.argmax(1, keepdim=True)).float().mean()
    if multi_positive == "per_image":
        i2w, images = per_row_info_nce(logits, positive)
        w2i, words = per_row_info_nce(logits[:, present].T, positive[:, present].T)
        return (i2w / max(images, 1) + w2i / max(words, 1)) / 2, float(hits)
    i2w, pairs = masked_info_nce(logits, positive)
    w2i, _ = masked_info_nce(logits[:, present].T, positive[:, present].T)
    loss = (i2w + w2i) / (2 * max(pairs, 1))
    return loss, float(hits)


# --------------------------------------------------------------------------------------------
# Shared set-up


@dataclass
class Batches:
    """The training images and the (image, mapped word) incidence they are scored with.

    ``mapped`` are the vocabulary indices of the mapped words (the columns); ``incidence`` is the
    (n_images, n_mapped) bool matrix of every link (all splits; only training rows are used).
    """

    train_images: np.ndarray
    mapped: np.ndarray
    incidence: torch.Tensor

    @classmethod
    def build(cls, data: GroundingData) -> Batches:
        data.training_links()  # refuses data without a training link in one line
        mapped = data.mapped_words()
        column = np.searchsorted(mapped, data.link_words)
        incidence = torch.zeros(len(data.features), len(mapped), dtype=torch.bool)
        incidence[torch.as_tensor(data.link_images.copy()), torch.as_tensor(column)] = True
        train_images = np.flatnonzero((data.split == "train") & incidence.any(1).numpy())
        return cls(train_images, mapped, incidence)

    @cached_property
    def taxonomy_order(self) -> np.ndarray:
        """The training images sorted by their linked words, each image's words taken from the most general
        (the most linked images) to the most specific: a depth-first order of the WordNet hierarchy the
        links come from, in which images of sister synsets (sharing a hypernym) are neighbours."""
        rows = self.incidence[self.train_images].numpy()
        linked_images = rows.sum(0)
        keys = []
        for row in rows:
            columns = np.flatnonzero(row)
            keys.append(tuple(columns[np.lexsort((columns, -linked_images[columns]))].tolist()))
        return self.train_images[sorted(range(len(keys)), key=keys.__getitem__)]

    def epoch_order(self, rng: np.random.Generator, batch_size: int, sister_share: float) -> np.ndarray:
        """The training images of one epoch, batch after batch.

        With ``sister_share`` 0 a random permutation. Otherwise each batch starts with a run of
        ``round(sister_share * batch_size)`` images of :meth:`taxonomy_order` from a random start (sister
        synsets: hard negatives) and is filled from a random permutation, drawn again when spent.
        """
        n = len(self.train_images)
        if not sister_share:
            return self.train_images[rng.permutation(n)]
        taxonomy = self.taxonomy_order
        run = min(n, max(1, round(sister_share * batch_size)))
        filler, used, order = self.train_images[rng.permutation(n)], 0, []
        while len(order) < n:
            start = int(rng.integers(0, n - run + 1))
            order.extend(taxonomy[start:start + run])
            need = batch_size - run
            while need > 0:
                if used == n:
                    filler, used = self.train_images[rng.permutation(n)], 0
                take = filler[used:used + need]
                order.extend(take)
                used, need = used + len(take), need - len(take)
        return np.asarray(order[:n], dtype=self.train_images.dtype)


def expected_first(below: np.ndarray, negatives: np.ndarray, draws: int) -> np.ndarray:
    """Probability that a true item ranks first among itself and ``draws`` negatives drawn without replacement
    from its ``negatives`` non-positives, ``below`` of which score lower: ``C(below, k) / C(negatives, k)``,
    ``k = min(draws, negatives)`` (ties count against the true item, as in the evaluate protocol)."""
    k = np.minimum(draws, negatives)
    first = np.zeros(len(below))
    ok = below >= k
    b, n, k = below[ok], negatives[ok], k[ok]
    first[ok] = np.exp(gammaln(b + 1) - gammaln(b - k + 1) - gammaln(n + 1) + gammaln(n - k + 1))
    return first


def validation_pair_p1(projected: np.ndarray, word_vectors: np.ndarray, data: GroundingData, kind: str,
                       split: str = "val", candidates: int = 100) -> float:
    """The evaluate protocol's P@1 on the links of ``split``'s images, both directions averaged, in
    expectation over the candidate draws: each link's word against ``candidates - 1`` mapped words not linked
    to its image, and its image against as many ``split`` images not linked to its word."""
    words, images = data.links_in(split)
    if len(words) == 0:
        return float("nan")
    mapped, query_images = data.mapped_words(), np.unique(images)
    scores = energy_matrix(projected[query_images], word_vectors[mapped], kind)
    row, column = np.searchsorted(query_images, images), np.searchsorted(mapped, words)
    positive = np.zeros(scores.shape, dtype=bool)
    positive[row, column] = True
    true = scores[row, column][:, None]
    negatives = np.where(positive, np.inf, scores)
    image_to_word = expected_first((negatives[row] < true).sum(1), (~positive[row]).sum(1), candidates - 1)
    word_to_image = expected_first((negatives.T[column] < true).sum(1), (~positive[:, column]).sum(0),
                                   candidates - 1)
    return float((image_to_word.mean() + word_to_image.mean()) / 2)


def stopping_score(params: ImageLossParams, val_p1: float, projected: np.ndarray, word_vectors: np.ndarray,
                   data: GroundingData) -> float:
    """The score early stopping keeps the best epoch by (``params.stop_on``)."""
    if params.stop_on == "top1":
        return val_p1
    return validation_pair_p1(projected, word_vectors, data, params.energy)


def noisy(features: torch.Tensor, share: float) -> torch.Tensor:
    """``features`` plus Gaussian noise of std ``share / sqrt(D)`` per dimension (torch's global generator); the
    rows themselves, with no draw, when ``share`` is 0."""
    if not share:
        return features
    return features + torch.randn_like(features) * (share / math.sqrt(features.shape[1]))


def initial_projection(data: GroundingData, word_vectors: np.ndarray, params: ImageLossParams) -> torch.Tensor:
    """``W`` at the start: the L2 solution on the same prepared features, or a seeded Gaussian (torch's global
    generator)."""
    if params.init == "l2":
        start = l2.fit(data, word_vectors, l2.L2Params(params.l2_ridge, params.normalize_features,
                                                       params.center_features))
        return torch.from_numpy(start.projection.copy())
    return torch.randn(data.features.shape[1], word_vectors.shape[1]) / math.sqrt(data.features.shape[1])


def make_optimizer(groups: list[dict], params: ImageLossParams) -> torch.optim.Optimizer:
    """Adam or momentum SGD over parameter groups (each with its own ``lr``)."""
    if params.optimizer == "adam":
        return torch.optim.Adam(groups)
    return torch.optim.SGD(groups, momentum=params.momentum)


def logit_scale_of(params: ImageLossParams) -> torch.Tensor:
    """The log of ``1 / temperature``, a leaf that requires grad when the temperature is learnt."""
    start = math.log(1 / params.temperature)
    return torch.tensor(start, dtype=torch.float32, requires_grad=bool(params.learn_temperature))


def scale_value(log_scale: torch.Tensor) -> torch.Tensor:
    """``exp(log_scale)`` clamped to ``MAX_SCALE``."""
    return log_scale.clamp(max=math.log(MAX_SCALE)).exp()


# --------------------------------------------------------------------------------------------
# The model


def train(
    inputs: TrainingInputs, params: ContrastiveParams, seed: int, on_epoch: EpochCallback | None = None,
) -> Trained:
    """Train the contrastive projection (and, with ``update_words``, the mapped words' vectors).

    Returns
    -------
    Trained
        ``Projection(W, center, normalize_features, words)`` with ``words`` ``own`` when the
        words are learnt (then ``word_vectors`` is the whole vocabulary with the mapped rows
        replaced) else ``pretrained`` (``word_vectors`` None); one :class:`EpochLog` per epoch
        (``val_p1``: full ranking of the val images among the mapped words by ``params.energy``);
        ``kept_epoch`` the epoch kept by early stopping.
    """
    checked(params, "train.contrastive")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    data = inputs.data
    batches = Batches.build(data)
    pretrained = np.asarray(inputs.vectors.vectors, dtype=np.float32)
    center = training_center(data, params.normalize_features, params.center_features)
    prepared = prepare_features(data.features, params.normalize_features, center)
    features = torch.from_numpy(np.ascontiguousarray(prepared))

    projection = initial_projection(data, pretrained, params).requires_grad_(True)
    log_scale = logit_scale_of(params)
    start_words = torch.from_numpy(pretrained[batches.mapped].copy())
    words = start_words.clone().requires_grad_(params.update_words)
    groups = [{"params": [projection], "lr": params.lr, "weight_decay": params.weight_decay}]
    if params.learn_temperature:
        groups.append({"params": [log_scale], "lr": params.lr, "weight_decay": 0.0})
    if params.update_words:
        groups.append({"params": [words], "lr": params.word_lr, "weight_decay": 0.0})
    optimizer = make_optimizer(groups, params)

    def snapshot() -> tuple[np.ndarray, np.ndarray]:
        return projection.detach().numpy().copy(), words.detach().numpy().copy()

    def word_matrix(mapped_rows: np.ndarray) -> np.ndarray:
        full = pretrained.copy()
        full[batches.mapped] = mapped_rows
        return full

    stopper = EarlyStopping(params.patience)
    log = EpochRecorder(on_epoch)
    n_train = len(batches.train_images)
    for epoch in range(1, params.epochs + 1):
        order = batches.epoch_order(rng, params.batch_size, params.sister_share)
        total, hits, steps = 0.0, 0.0, 0
        for start in tqdm(range(0, n_train, params.batch_size), desc=f"contrastive epoch {epoch}/{params.epochs}",
                          unit="batch", mininterval=1, leave=False):
            rows = torch.from_numpy(order[start:start + params.batch_size])
            v = noisy(features[rows], params.feature_noise) @ projection
            logits = scale_value(log_scale) * energy_matrix(v, words, params.energy, unit_rows_torch)
            loss, hit = symmetric_loss(logits, batches.incidence[rows], params.multi_positive)
            if params.update_words and params.anchor:
                loss = loss + params.anchor * (words - start_words).pow(2).sum(1).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.detach())
            hits += hit
            steps += 1
        current, mapped_rows = snapshot()
        word_vectors = word_matrix(mapped_rows)
        projected = prepared @ current
        val_p1 = validation_p1(projected, word_vectors, data, params.energy)
        log.add(EpochLog(epoch, total / steps, hits / steps, val_p1))
        score = stopping_score(params, val_p1, projected, word_vectors, data)
        if stopper.update(epoch, score, (current, mapped_rows)):
            break
    current, mapped_rows = stopper.best_state
    return Trained(
        projection=Projection(current, center, params.normalize_features,
                              "own" if params.update_words else "pretrained"),
        word_vectors=word_matrix(mapped_rows) if params.update_words else None,
        log=log.entries,
        kept_epoch=stopper.best_epoch,
        summary={"temperature": round(float(1 / scale_value(log_scale.detach())), 5),
                 "stop_on": params.stop_on, "stopping_score": round(stopper.best_score, 4)},
    )
