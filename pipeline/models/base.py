"""What every model shares: the data it trains on, the projection it learns, feature preparation,
the energy (dot or cos) of image and word vectors, validation P@1, early stopping and the per-epoch log.

Every model maps a frozen CNN feature ``f`` of an image to the word space with one linear
projection, ``v = (prepare(f) - center) @ projection``; a model that also learns word vectors
returns them for the whole vocabulary (:class:`Trained`), and its projection is scored against
those (``words: own``) instead of the pretrained ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal, TypeVar

import numpy as np
from gensim.models import KeyedVectors

from pipeline.core.errors import PipelineError
from pipeline.models.params import Energy

WordSide = Literal["pretrained", "own"]
Rows = TypeVar("Rows")  # a matrix of row vectors: a numpy array or a torch tensor


@dataclass
class GroundingData:
    """Images, their features and their links to vocabulary words, as index arrays.

    Parameters
    ----------
    features : ndarray, shape (n_images, D), float32
        One CNN feature per image.
    split : ndarray of str, shape (n_images,)
        ``train`` / ``val`` / ``test`` per image.
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

    def training_links(self) -> tuple[np.ndarray, np.ndarray]:
        """``links_in("train")``, refused when empty (no model can train without them)."""
        words, images = self.links_in("train")
        if len(words) == 0:
            raise PipelineError("links.csv: no link has a training image; check the map_images split")
        return words, images

    def mapped_words(self) -> np.ndarray:
        """Sorted vocabulary indices of every word with at least one link."""
        return np.unique(self.link_words)


@dataclass
class TrainingInputs:
    """Everything a model trains on, read from the outputs of the stages before train.

    Attributes
    ----------
    vectors : KeyedVectors
        The pretrained word vectors (with each word's corpus ``count``).
    output_vectors : ndarray (V, d)
        word2vec's output vectors (``syn1neg``), row-aligned with ``vectors``; (0, d) for a model
        that reads no text.
    data : GroundingData
        Features, splits and links.
    dropped : dict
        ``dropped_images`` / ``dropped_links``: images without features, links to them.
    tokens : ndarray of int64
        The corpus as vocabulary indices (-1 out of vocabulary); empty for a model that reads no text.
    counts : ndarray of int64 (V,)
        Corpus count of every vocabulary word.
    """

    vectors: KeyedVectors
    output_vectors: np.ndarray
    data: GroundingData
    dropped: dict[str, int]
    tokens: np.ndarray
    counts: np.ndarray


@dataclass
class Projection:
    """A trained image-to-word-space map: ``v = (prepare(f) - center) @ projection``.

    ``words`` names the word vectors it is scored against: ``pretrained`` (the pretrain stage's)
    or ``own`` (the word vectors a model that learns them writes beside it). Its file is
    :mod:`pipeline.artifacts.model_dir`'s.
    """

    projection: np.ndarray
    center: np.ndarray
    normalize_features: bool = False
    words: WordSide = "pretrained"

    def project(self, features: np.ndarray) -> np.ndarray:
        """Map CNN features (n, D) to word space (n, d), float32."""
        prepared = prepare_features(features, self.normalize_features, self.center)
        return (prepared @ self.projection).astype(np.float32, copy=False)


@dataclass
class EpochLog:
    """One epoch of training: mean loss, share of active hinges (or of in-batch hits), validation P@1."""

    epoch: int
    loss: float
    active_share: float
    val_p1: float


EpochCallback = Callable[[EpochLog], None]


@dataclass
class EpochRecorder:
    """The per-epoch log of one training run; ``on_epoch`` (the train stage's live logger) gets each
    entry as the epoch ends, so that a run can be followed while it trains."""

    on_epoch: EpochCallback | None = None
    entries: list[EpochLog] = field(default_factory=list)

    def add(self, entry: EpochLog) -> None:
        self.entries.append(entry)
        if self.on_epoch is not None:
            self.on_epoch(entry)


@dataclass
class Trained:
    """What a model's train function returns.

    ``word_vectors`` is the whole vocabulary's (V, d) input-vector matrix when the model learns word
    vectors (``projection.words == "own"``), else None; ``log`` has one entry per epoch run and
    ``kept_epoch`` is the epoch whose parameters were kept (early stopping), 0 for closed forms.
    """

    projection: Projection
    word_vectors: np.ndarray | None
    log: list[EpochLog] = field(default_factory=list)
    kept_epoch: int = 0
    summary: dict[str, Any] = field(default_factory=dict)


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


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1)


def energy_rows(queries: Rows, items: Rows, kind: Energy,
                unit: Callable[[Rows], Rows] = unit_rows) -> tuple[Rows, Rows]:
    """The rows whose inner products are the energy ``kind``: unit rows for ``cos``, as given for ``dot``.

    ``unit`` scales the rows of one matrix to unit length: :func:`unit_rows` for numpy arrays; a torch
    caller passes its own (``torch.nn.functional.normalize``), which keeps autograd and torch's arithmetic.
    """
    if kind == "cos":
        return unit(queries), unit(items)
    return queries, items


def energy_matrix(queries: Rows, items: Rows, kind: Energy, unit: Callable[[Rows], Rows] = unit_rows) -> Rows:
    """(n, m) energies of n query rows against m item rows (numpy or torch, see :func:`energy_rows`)."""
    queries, items = energy_rows(queries, items, kind, unit)
    return queries @ items.T


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
    best = candidates[np.argmax(energy_matrix(projected[query_images], word_vectors[candidates], kind), axis=1)]
    truth = set(zip(images.tolist(), words.tolist()))
    return float(np.mean([(int(i), int(w)) in truth for i, w in zip(query_images, best)]))


class EarlyStopping:
    """Keeps the state of the best epoch by validation P@1; says when ``patience`` epochs brought no gain.

    With ``patience`` 0 it never stops and keeps the last epoch; so it does for a nan score (no validation
    images: nothing to choose an epoch by). ``best_score`` is the kept epoch's score either way.
    """

    def __init__(self, patience: int) -> None:
        self.patience = patience
        self.best_score = -np.inf
        self.best_epoch = 0
        self.best_state: Any = None
        self.stale = 0

    def update(self, epoch: int, score: float, state: Any) -> bool:
        """Record an epoch; True when training should stop."""
        if not self.patience or np.isnan(score):
            self.best_score, self.best_epoch, self.best_state = score, epoch, state
            return False
        if score > self.best_score:
            self.best_score, self.best_epoch, self.best_state, self.stale = score, epoch, state, 0
            return False
        self.stale += 1
        return self.stale >= self.patience
