"""IESG, the L2-distance baseline and a DeViSE-style ranking baseline.

Every model is a linear projection ``W_p`` that maps a frozen CNN feature ``f`` of an image to the
word space, ``v = (f - center) @ W_p``. IESG (Luo) also keeps the word vectors learnable and trains
on corpus windows whose centre word ``w_i`` has images: for an image ``f_i`` of ``w_i``, a context
word ``w_c`` of the window and sampled negatives ``w'_c`` it minimises, alternately,

    L(w_i, w_c, w'_c) = max(0, m - lambda * E(e_i, e_c) + E(e_i, e'_c))
    L(f_i, w_c, w'_c) = max(0, m - lambda * E(v_i, e_c) + E(v_i, e'_c))

with ``E`` the inner product (or, as an option, the cosine). Updates of the word vectors are
sparse (only the rows in a batch move; their momentum too, as TensorFlow's sparse momentum does),
so one step costs the same whatever the vocabulary size.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from tqdm import tqdm

from pipeline.errors import PipelineError

Energy = Literal["dot", "cos"]


@dataclass(frozen=True)
class IESGParams:
    """Hyper-parameters of IESG (``train.iesg`` in params.yaml).

    Parameters
    ----------
    lam : float
        The paper's lambda: weight of the positive energy in both hinges.
    margin : float
        The hinge margin ``m``.
    negatives : int
        Negative words ``w'_c`` per triple (the hinge is averaged over them).
    energy : {"dot", "cos"}
        ``E``: the paper's inner product, or the cosine (scale-free, so the hinge cannot be met
        by inflating ``W_p``).
    context_vectors : {"input", "output"}
        Which word2vec matrix plays ``e_c`` and ``e'_c``: the input vectors (the same space as
        ``e_i``) or the output (``syn1neg``) vectors.
    update_words : bool
        Learn the word vectors (the paper) or keep them frozen.
    window : int
        Context window; the context word is drawn uniformly within it (the paper: 5).
    sample : float
        word2vec-style down-sampling of frequent centre words (0 keeps all).
    max_triples_per_epoch : int
        Triples drawn per epoch at most (0: one per centre occurrence).
    lr, momentum, batch_size : float, float, int
        Momentum SGD (the paper: 0.01, 0.9, 16).
    weight_decay : float
        L2 penalty on ``W_p`` (0 in the paper).
    epochs : int
        Passes over the corpus windows.
    patience : int
        Early stopping: stop after this many epochs without a better validation P@1 and keep the
        best epoch's parameters (0 disables it and keeps the last epoch).
    init : {"normal", "l2"}
        ``W_p`` starts Gaussian (std ``init_scale / sqrt(D)``) or from the L2 baseline's solution.
    init_scale : float
        Scale of the Gaussian initialisation.
    normalize_features : bool
        Scale each CNN feature to unit L2 norm before projecting.
    center_features : bool
        Subtract the mean training feature before projecting, so that the projected images have
        no shared component (with unnormalised energies, a shared direction can satisfy most
        hinges at once without telling images apart).
    """

    lam: float = 5.0
    margin: float = 1.0
    negatives: int = 1
    energy: Energy = "dot"
    context_vectors: Literal["input", "output"] = "input"
    update_words: bool = True
    window: int = 5
    sample: float = 1e-3
    max_triples_per_epoch: int = 0
    lr: float = 0.01
    momentum: float = 0.9
    batch_size: int = 16
    weight_decay: float = 0.0
    epochs: int = 5
    patience: int = 0
    init: Literal["normal", "l2"] = "normal"
    init_scale: float = 1.0
    normalize_features: bool = False
    center_features: bool = False

    def validate(self) -> None:
        for name in ("negatives", "window", "batch_size", "epochs"):
            if getattr(self, name) < 1:
                raise ValueError(f"iesg.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("lam", "lr", "init_scale"):
            if getattr(self, name) <= 0:
                raise ValueError(f"iesg.{name} must be > 0, got {getattr(self, name)}")
        for name in ("margin", "weight_decay", "sample", "max_triples_per_epoch", "patience"):
            if getattr(self, name) < 0:
                raise ValueError(f"iesg.{name} must be >= 0, got {getattr(self, name)}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"iesg.momentum must be in [0, 1), got {self.momentum}")


PAPER_IESG = IESGParams(
    lam=5.0, margin=1.0, negatives=1, energy="dot", context_vectors="input", update_words=True,
    window=5, lr=0.01, momentum=0.9, batch_size=16, weight_decay=0.0, init="normal",
    normalize_features=False, center_features=False,
)
"""The paper's setting: everything it states, and the plainest reading of what it leaves open."""


@dataclass(frozen=True)
class L2Params:
    """The L2 baseline (``train.l2``): ``W_p = argmin sum ||v - e_w||^2 + penalty ||W_p||^2``.

    Word vectors are frozen; the least-squares solution is computed in closed form.

    Parameters
    ----------
    ridge : float
        The penalty as a share of the mean diagonal of the (link-weighted) Gram matrix ``F^T F``,
        so that one value means the same for raw and for unit-normalised features.
    normalize_features, center_features : bool
        Prepare the features as :class:`IESGParams` does before regressing.
    """

    ridge: float = 1e-2
    normalize_features: bool = False
    center_features: bool = False

    def validate(self) -> None:
        if self.ridge < 0:
            raise ValueError(f"l2.ridge must be >= 0, got {self.ridge}")


@dataclass(frozen=True)
class DeviseParams:
    """DeViSE-style ranking baseline (``train.devise``; Frome et al. 2013).

    ``W_p`` is trained with ``max(0, margin - t_w . v + t_w' . v)`` over training links, ``t`` the
    unit-normalised frozen pretrained word vectors and ``w'`` mapped words not linked to the image.
    """

    margin: float = 0.1
    negatives: int = 10
    lr: float = 0.01
    momentum: float = 0.9
    batch_size: int = 16
    epochs: int = 10

    def validate(self) -> None:
        for name in ("negatives", "batch_size", "epochs"):
            if getattr(self, name) < 1:
                raise ValueError(f"devise.{name} must be >= 1, got {getattr(self, name)}")
        if self.margin <= 0 or self.lr <= 0 or not 0 <= self.momentum < 1:
            raise ValueError("devise needs margin > 0, lr > 0 and momentum in [0, 1)")


@dataclass(frozen=True)
class TrainParams:
    """The ``train`` section: the three models and the seed they share.

    ``setting: paper`` trains IESG with :data:`PAPER_IESG` (its epochs, patience and sampling
    caps still from ``iesg``), whatever the other ``iesg`` values say.
    """

    seed: int = 0
    setting: Literal["tuned", "paper"] = "tuned"
    iesg: IESGParams = field(default_factory=IESGParams)
    l2: L2Params = field(default_factory=L2Params)
    devise: DeviseParams = field(default_factory=DeviseParams)

    def effective_iesg(self) -> IESGParams:
        """The IESG parameters actually used, after applying ``setting``."""
        if self.setting == "tuned":
            return self.iesg
        return replace(
            PAPER_IESG, epochs=self.iesg.epochs, patience=self.iesg.patience,
            sample=self.iesg.sample, max_triples_per_epoch=self.iesg.max_triples_per_epoch,
        )


@dataclass
class GroundingData:
    """Images, their features and their links to vocabulary words, as index arrays.

    Parameters
    ----------
    features : ndarray, shape (n_images, D), float32
        One CNN feature per image.
    split : ndarray of str, shape (n_images,)
        ``train`` / ``val`` / ``test`` (or any other name) per image.
    link_words, link_images : ndarray of int64
        Parallel arrays: word ``link_words[k]`` (a vocabulary index) shows in image ``link_images[k]``.
    """

    features: np.ndarray
    split: np.ndarray
    link_words: np.ndarray
    link_images: np.ndarray

    def links_in(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """``(words, images)`` of the links whose image is in ``split``."""
        keep = self.split[self.link_images] == split
        return self.link_words[keep], self.link_images[keep]

    def mapped_words(self) -> np.ndarray:
        """Sorted vocabulary indices of every word with at least one link."""
        return np.unique(self.link_words)


@dataclass
class Projection:
    """A trained image-to-word-space map: ``v = (f - center) @ projection``."""

    projection: np.ndarray
    center: np.ndarray
    normalize_features: bool = False

    def project(self, features: np.ndarray) -> np.ndarray:
        """Map CNN features (n, D) to word space (n, d)."""
        return prepare_features(features, self.normalize_features, self.center) @ self.projection

    def save(self, path: str | Path, words: str) -> None:
        """Write the npz that the evaluate stage reads (``words``: which word vectors pair with it).

        The same arrays give the same bytes: unlike ``np.savez``, no write time is stored.
        """
        arrays = {
            "projection": self.projection.astype(np.float32), "center": self.center.astype(np.float32),
            "normalize_features": np.array(self.normalize_features), "words": np.array(words),
        }
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
            for name, array in arrays.items():
                buffer = io.BytesIO()
                np.lib.format.write_array(buffer, array, allow_pickle=False)
                archive.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)), buffer.getvalue())


def prepare_features(features: np.ndarray, normalize: bool, center: np.ndarray) -> np.ndarray:
    """Optionally unit-normalise features, then subtract ``center``."""
    features = np.asarray(features, dtype=np.float32)
    if normalize:
        features = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    return features - center


def training_center(data: GroundingData, normalize: bool, center: bool = True) -> np.ndarray:
    """Mean (optionally unit-normalised) feature of the training images; zeros when not ``center``."""
    zero = np.zeros(data.features.shape[1], dtype=np.float32)
    if not center:
        return zero
    train = data.split == "train"
    return prepare_features(data.features[train], normalize, zero).mean(0).astype(np.float32)


def train_l2(data: GroundingData, word_vectors: np.ndarray, params: L2Params) -> Projection:
    """Closed-form ridge regression of word vectors on (prepared) image features over training links.

    Returns the :class:`Projection` minimising ``sum ||v - e_w||^2 + penalty ||W_p||^2`` with
    ``v = prepare(f) @ W_p`` and ``penalty = ridge * trace(F^T F) / D`` (see :class:`L2Params`).
    """
    words, images = data.links_in("train")
    if len(words) == 0:
        raise PipelineError("links.csv: no link has a training image; check the map_images split")
    dim = data.features.shape[1]
    center = training_center(data, params.normalize_features, params.center_features)
    features = prepare_features(data.features, params.normalize_features, center).astype(np.float64)
    image_ids, counts = np.unique(images, return_counts=True)
    gram = features[image_ids].T @ (features[image_ids] * counts[:, None])
    penalty = params.ridge * np.trace(gram) / dim
    target = features[images].T @ word_vectors[words].astype(np.float64)
    projection = np.linalg.solve(gram + penalty * np.eye(dim), target)
    return Projection(projection.astype(np.float32), center, params.normalize_features)


def energy(a: torch.Tensor, b: torch.Tensor, kind: Energy) -> torch.Tensor:
    """Row-wise energy of two (n, d) tensors; ``b`` may be (n, k, d) for k candidates per row."""
    if b.dim() == 3:
        a = a.unsqueeze(1)
    if kind == "cos":
        return torch.nn.functional.cosine_similarity(a, b, dim=-1)
    return (a * b).sum(-1)


def hinge_loss(anchor: torch.Tensor, positive: torch.Tensor, negatives: torch.Tensor,
               lam: float, margin: float, kind: Energy) -> tuple[torch.Tensor, torch.Tensor]:
    """IESG's hinge ``max(0, m - lam * E(a, p) + E(a, n))``, averaged over negatives.

    Parameters
    ----------
    anchor, positive : Tensor (n, d)
    negatives : Tensor (n, k, d)

    Returns
    -------
    (Tensor, Tensor)
        Per-row loss (n,) and the boolean (n, k) mask of active (non-zero) hinges.
    """
    raw = margin - lam * energy(anchor, positive, kind).unsqueeze(1) + energy(anchor, negatives, kind)
    return raw.clamp(min=0).mean(1), raw > 0


class SparseMomentum:
    """Momentum SGD on the rows of an embedding matrix that a batch touched.

    Untouched rows keep both their value and their momentum (the lazy rule of TensorFlow's
    sparse momentum), so a step costs O(batch) rather than O(vocabulary).
    """

    def __init__(self, matrix: torch.Tensor, lr: float, momentum: float) -> None:
        self.matrix = matrix
        self.buffer = torch.zeros_like(matrix)
        self.lr = lr
        self.momentum = momentum

    def step(self, rows: torch.Tensor, grads: torch.Tensor) -> None:
        """Apply gradients ``grads`` (n, d) of rows ``rows`` (n,), summing duplicate rows."""
        unique, inverse = torch.unique(rows, return_inverse=True)
        summed = torch.zeros(len(unique), grads.shape[1], dtype=grads.dtype).index_add_(0, inverse, grads)
        buffer = self.buffer[unique] * self.momentum + summed
        self.buffer[unique] = buffer
        self.matrix[unique] -= self.lr * buffer


@dataclass
class EpochLog:
    """One epoch of training: mean loss, share of active hinges, validation P@1."""

    model: str
    epoch: int
    loss: float
    active_share: float
    val_p1: float


def validation_p1(projected: np.ndarray, word_vectors: np.ndarray, data: GroundingData,
                  kind: Energy, split: str = "val") -> float:
    """Share of ``split`` images whose top-ranked mapped word is one of their linked words.

    Every mapped word is a candidate (a full ranking, stricter than the 100-candidate test).
    """
    words, images = data.links_in(split)
    if len(words) == 0:
        return float("nan")
    candidates = data.mapped_words()
    query_images = np.unique(images)
    queries = projected[query_images]
    targets = word_vectors[candidates]
    if kind == "cos":
        queries = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
        targets = targets / np.maximum(np.linalg.norm(targets, axis=1, keepdims=True), 1e-12)
    best = candidates[np.argmax(queries @ targets.T, axis=1)]
    truth = set(zip(images.tolist(), words.tolist()))
    return float(np.mean([(int(i), int(w)) in truth for i, w in zip(query_images, best)]))


class CorpusWindows:
    """Draws IESG triples ``(centre, context, negatives, image)`` from a corpus, vectorised.

    Parameters
    ----------
    tokens : ndarray of int64
        The corpus as vocabulary indices (-1 for out-of-vocabulary tokens).
    counts : ndarray of int64, shape (V,)
        Corpus count of every vocabulary word (for the unigram^0.75 negative distribution and
        down-sampling).
    data : GroundingData
        Links; only training images are drawn.
    """

    def __init__(self, tokens: np.ndarray, counts: np.ndarray, data: GroundingData) -> None:
        words, images = data.links_in("train")
        order = np.lexsort((images, words))
        words, images = words[order], images[order]
        image_words, self.image_starts, self.image_counts = np.unique(
            words, return_index=True, return_counts=True)
        self.images = images
        self.slot = np.full(len(counts), -1, dtype=np.int64)
        self.slot[image_words] = np.arange(len(image_words))
        self.tokens = tokens[tokens >= 0]
        self.centre_occurrences = int((self.slot[self.tokens] >= 0).sum())
        self.counts = counts
        weights = counts.astype(np.float64) ** 0.75
        self.negative_cdf = np.cumsum(weights / weights.sum())

    def keep_probability(self, sample: float) -> np.ndarray:
        """word2vec's chance of keeping each vocabulary word in the down-sampled stream."""
        frequency = self.counts / self.counts.sum()
        return np.minimum(1.0, (np.sqrt(frequency / sample) + 1) * sample / frequency)

    def draw(self, rng: np.random.Generator, params: IESGParams) -> dict[str, np.ndarray]:
        """One epoch's triples, shuffled: arrays ``centre``, ``context``, ``negatives`` (n, k), ``image``.

        As in word2vec, frequent words are first dropped from the token stream (``params.sample``),
        for centres and contexts alike; then every remaining occurrence of a word with training
        images yields one triple with a context word drawn uniformly within ``params.window``.
        """
        stream = self.tokens
        if params.sample > 0:
            stream = stream[rng.random(len(stream)) < self.keep_probability(params.sample)[stream]]
        positions = np.flatnonzero(self.slot[stream] >= 0)
        offsets = rng.integers(1, params.window + 1, len(positions)) * rng.choice([-1, 1], len(positions))
        context_positions = positions + offsets
        inside = (context_positions >= 0) & (context_positions < len(stream))
        positions, context_positions = positions[inside], context_positions[inside]
        order = rng.permutation(len(positions))
        if params.max_triples_per_epoch:
            order = order[: params.max_triples_per_epoch]
        positions, context_positions = positions[order], context_positions[order]
        slots = self.slot[stream[positions]]
        picks = self.image_starts[slots] + (rng.random(len(slots)) * self.image_counts[slots]).astype(np.int64)
        negatives = np.searchsorted(self.negative_cdf, rng.random((len(positions), params.negatives)))
        return {
            "centre": stream[positions],
            "context": stream[context_positions],
            "negatives": np.minimum(negatives, len(self.counts) - 1),
            "image": self.images[picks],
        }


def train_iesg(
    data: GroundingData, tokens: np.ndarray, counts: np.ndarray, input_vectors: np.ndarray,
    output_vectors: np.ndarray, params: IESGParams, seed: int, l2_ridge: float = L2Params.ridge,
) -> tuple[Projection, np.ndarray, list[EpochLog]]:
    """Train IESG by alternating the word hinge and the image hinge on every batch.

    Parameters
    ----------
    data : GroundingData
        Image features, splits and word-image links.
    tokens, counts : ndarray
        The corpus as vocabulary indices, and each word's corpus count.
    input_vectors, output_vectors : ndarray (V, d)
        Pretrained word2vec input vectors (``e_i``, learnable) and output vectors (used as
        ``e_c`` when ``params.context_vectors == "output"``).
    params : IESGParams
        Hyper-parameters.
    seed : int
        Seeds initialisation and sampling.
    l2_ridge : float
        Ridge of the L2 solution that ``W_p`` starts from when ``params.init == "l2"``; that solution
        is fitted on IESG's own feature preparation (normalised / centred as ``params`` say), so the
        start is the best linear regression in the space IESG trains in.

    Returns
    -------
    (Projection, ndarray, list of EpochLog)
        The projection, the updated input word vectors (V, d) and the per-epoch log.
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    windows = CorpusWindows(tokens, counts, data)
    if windows.centre_occurrences == 0:
        raise PipelineError(
            "corpus: no word with a training image occurs in the corpus; check the mapping and corpus"
        )
    dim_in, dim_out = data.features.shape[1], input_vectors.shape[1]
    center = training_center(data, params.normalize_features, params.center_features)
    features = torch.from_numpy(prepare_features(data.features, params.normalize_features, center))
    if params.init == "l2":
        l2 = train_l2(data, input_vectors, L2Params(l2_ridge, params.normalize_features, params.center_features))
        start = torch.from_numpy(l2.projection.copy())
    else:
        start = torch.randn(dim_in, dim_out) * params.init_scale / np.sqrt(dim_in)
    projection = start.clone().requires_grad_(True)
    optimiser = torch.optim.SGD([projection], lr=params.lr, momentum=params.momentum,
                                weight_decay=params.weight_decay)
    words_in = torch.from_numpy(input_vectors.astype(np.float32).copy())
    words_ctx = words_in if params.context_vectors == "input" else torch.from_numpy(
        output_vectors.astype(np.float32).copy())
    update_in = SparseMomentum(words_in, params.lr, params.momentum)
    update_ctx = update_in if words_ctx is words_in else SparseMomentum(words_ctx, params.lr, params.momentum)

    logs: list[EpochLog] = []
    best: tuple[float, np.ndarray, np.ndarray] | None = None
    stale = 0
    for epoch in range(1, params.epochs + 1):
        triples = {k: torch.from_numpy(v) for k, v in windows.draw(rng, params).items()}
        n = len(triples["centre"])
        total_loss, active, hinges = 0.0, 0, 0
        with tqdm(total=n, desc=f"iesg epoch {epoch}/{params.epochs}", unit="triple", mininterval=1) as bar:
            for start_row in range(0, n, params.batch_size):
                batch = slice(start_row, start_row + params.batch_size)
                centre, context = triples["centre"][batch], triples["context"][batch]
                negatives, image = triples["negatives"][batch], triples["image"][batch]
                rows = torch.cat([context.unsqueeze(1), negatives], 1)

                if params.update_words:
                    e_i = words_in[centre].requires_grad_(True)
                    e_ctx = words_ctx[rows].requires_grad_(True)
                    loss_w, _ = hinge_loss(e_i, e_ctx[:, 0], e_ctx[:, 1:], params.lam, params.margin, params.energy)
                    loss_w.mean().backward()
                    update_in.step(centre, e_i.grad)
                    update_ctx.step(rows.reshape(-1), e_ctx.grad.reshape(-1, dim_out))

                e_ctx = words_ctx[rows].requires_grad_(params.update_words)
                v = features[image] @ projection
                loss_f, mask = hinge_loss(v, e_ctx[:, 0], e_ctx[:, 1:], params.lam, params.margin, params.energy)
                optimiser.zero_grad()
                loss_f.mean().backward()
                optimiser.step()
                if params.update_words:
                    update_ctx.step(rows.reshape(-1), e_ctx.grad.reshape(-1, dim_out))
                total_loss += float(loss_f.detach().sum())
                active += int(mask.sum())
                hinges += mask.numel()
                bar.update(len(centre))
        with torch.no_grad():
            current = projection.detach().numpy().copy()
            vectors = words_in.numpy().copy()
        val_p1 = validation_p1(features.numpy() @ current, vectors, data, params.energy)
        logs.append(EpochLog("iesg", epoch, total_loss / max(n, 1), active / max(hinges, 1), val_p1))
        if params.patience:
            if best is None or val_p1 > best[0]:
                best, stale = (val_p1, current, vectors), 0
            else:
                stale += 1
                if stale >= params.patience:
                    break
    if params.patience and best is not None:
        _, current, vectors = best
    return Projection(current, center, params.normalize_features), vectors, logs


def train_devise(data: GroundingData, word_vectors: np.ndarray, params: DeviseParams,
                 seed: int) -> tuple[Projection, list[EpochLog]]:
    """Train a DeViSE-style ranking projection on the training links (word vectors frozen).

    Returns the projection and the per-epoch log (validation P@1 by dot product with the
    unit-normalised word vectors, which is how DeViSE ranks).
    """
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    words, images = data.links_in("train")
    if len(words) == 0:
        raise PipelineError("links.csv: no link has a training image; check the map_images split")
    mapped = data.mapped_words()
    unit_words = word_vectors / np.maximum(np.linalg.norm(word_vectors, axis=1, keepdims=True), 1e-12)
    targets = torch.from_numpy(unit_words.astype(np.float32))
    linked = set(zip(images.tolist(), words.tolist()))
    dim_in = data.features.shape[1]
    center = np.zeros(dim_in, dtype=np.float32)
    features = torch.from_numpy(data.features.astype(np.float32))
    projection = (torch.randn(dim_in, word_vectors.shape[1]) / np.sqrt(dim_in)).requires_grad_(True)
    optimiser = torch.optim.SGD([projection], lr=params.lr, momentum=params.momentum)
    logs = []
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
        logs.append(EpochLog("devise", epoch, total / len(order), active / max(hinges, 1),
                             validation_p1(features.numpy() @ current, unit_words, data, "dot")))
    return Projection(current, center), logs
