"""IESG, the Image-Enhanced Skip-Gram model (Luo).

A linear projection ``W_p`` maps a frozen CNN feature ``f`` of an image to the word space,
``v = (f - center) @ W_p``. IESG also keeps the word vectors learnable and trains
on corpus windows whose centre word ``w_i`` has images: for an image ``f_i`` of ``w_i``, a context
word ``w_c`` of the window and sampled negatives ``w'_c`` it minimises, alternately,

    L(w_i, w_c, w'_c) = max(0, m - lambda * E(e_i, e_c) + E(e_i, e'_c))
    L(f_i, w_c, w'_c) = max(0, m - lambda * E(v_i, e_c) + E(v_i, e'_c))

with ``E`` the inner product (or, as an option, the cosine). Updates of the word vectors are
sparse (only the rows in a batch move; their momentum too, as TensorFlow's sparse momentum does),
so one step costs the same whatever the vocabulary size.
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm import tqdm

from pipeline.core.errors import PipelineError
from pipeline.models import l2
from pipeline.models.base import (
    EarlyStopping, Energy, EpochCallback, EpochLog, EpochRecorder, GroundingData, Projection, Trained,
    TrainingInputs, prepare_features, training_center, validation_p1,
)
from pipeline.models.corpus_sampling import CorpusSampler
from pipeline.models.params import IESGParams


def energy(a: torch.Tensor, b: torch.Tensor, kind: Energy) -> torch.Tensor:
    """Row-wise energy of two (n, d) tensors; ``b`` may be (n, k, d) for k candidates per row.

    Paired rows, not the all-pairs :func:`~pipeline.models.base.energy_matrix`; the cosine is torch's
    ``cosine_similarity``, whose gradients differ in the last bits from normalising ``a`` before it is
    broadcast over the k candidates, and IESG trains through them.
    """
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


class CorpusWindows(CorpusSampler):
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
        super().__init__(tokens, counts)
        words, images = data.links_in("train")
        order = np.lexsort((images, words))
        words, images = words[order], images[order]
        image_words, self.image_starts, self.image_counts = np.unique(
            words, return_index=True, return_counts=True)
        self.images = images
        self.slot = np.full(len(counts), -1, dtype=np.int64)
        self.slot[image_words] = np.arange(len(image_words))
        self.centre_occurrences = int((self.slot >= 0)[self.tokens].sum())

    def draw(self, rng: np.random.Generator, params: IESGParams) -> dict[str, np.ndarray]:
        """One epoch's triples, shuffled: arrays ``centre``, ``context``, ``negatives`` (n, k), ``image``.

        As in word2vec, frequent words are first dropped from the token stream (``params.sample``),
        for centres and contexts alike; then every remaining occurrence of a word with training
        images yields one triple with a context word drawn uniformly within ``params.window``.
        """
        stream = self.downsampled(rng, params.sample)
        positions, context_positions = self.contexts(rng, stream.ranks_where(self.slot >= 0), params.window,
                                                     len(stream))
        order = rng.permutation(len(positions))
        if params.max_triples_per_epoch:
            order = order[: params.max_triples_per_epoch]
        centre, context = stream.take(positions[order], context_positions[order])
        slots = self.slot[centre]
        picks = self.image_starts[slots] + (rng.random(len(slots)) * self.image_counts[slots]).astype(np.int64)
        negatives = self.negatives(rng, len(centre), params.negatives)
        return {
            "centre": centre,
            "context": context,
            "negatives": negatives,
            "image": self.images[picks],
        }


def fit(
    data: GroundingData, tokens: np.ndarray, counts: np.ndarray, input_vectors: np.ndarray,
    output_vectors: np.ndarray, params: IESGParams, seed: int, on_epoch: EpochCallback | None = None,
) -> Trained:
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
        Hyper-parameters, used as given (``setting`` is applied by :func:`train`). With ``init: l2``
        ``W_p`` starts from the L2 solution on IESG's own feature preparation (normalised / centred
        as ``params`` say), the best linear regression in the space IESG trains in.
    seed : int
        Seeds initialisation and sampling.
    on_epoch : callable, optional
        Gets each epoch's :class:`EpochLog` as the epoch ends (live logging).

    Returns
    -------
    Trained
        The projection, the updated input word vectors (V, d) when ``update_words`` (else None,
        and the projection pairs with the pretrained vectors), the per-epoch log and the kept epoch.
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
        solution = l2.fit(data, input_vectors,
                          l2.L2Params(params.init_ridge, params.normalize_features, params.center_features))
        start = torch.from_numpy(solution.projection.copy())
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

    log = EpochRecorder(on_epoch)
    keep = EarlyStopping(params.patience)
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
        log.add(EpochLog(epoch, total_loss / max(n, 1), active / max(hinges, 1), val_p1))
        if keep.update(epoch, val_p1, (current, vectors)):
            break
    current, vectors = keep.best_state
    words = "own" if params.update_words else "pretrained"
    return Trained(Projection(current, center, params.normalize_features, words),
                   vectors if params.update_words else None, log.entries, kept_epoch=keep.best_epoch,
                   summary={"final_active_share": round(log.entries[-1].active_share, 4)})


def train(
    inputs: TrainingInputs, params: IESGParams, seed: int, on_epoch: EpochCallback | None = None,
) -> Trained:
    """The registry's entry: :func:`fit` with ``setting`` applied."""
    effective = params.effective()
    trained = fit(inputs.data, inputs.tokens, inputs.counts, inputs.vectors.vectors, inputs.output_vectors,
                  effective, seed, on_epoch)
    trained.summary["setting"] = params.setting
    return trained
