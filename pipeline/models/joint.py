"""Joint grounding: skip-gram with negative sampling on the corpus and the contrastive image loss,
trained together on one set of learnable word vectors.

IESG's idea done so that the words stay a text space (the anchor is MMSKIP-GRAM, Lazaridou, Pham and
Baroni 2015: skip-gram plus a visual term on the words that have images). Every word's input vector
``e`` and output vector ``u`` start from word2vec's and keep learning the corpus objective

    -log sigma(u_o . e_c) - sum_n log sigma(-u_n . e_c)

over ``(centre, context)`` pairs of the corpus windows (negatives ``n`` from the unigram^0.75
distribution, frequent words down-sampled as word2vec does), while the image projection ``W`` and the
mapped words' input vectors learn the symmetric masked InfoNCE of :mod:`pipeline.models.contrastive`.
The image loss moves the mapped words; the text loss moves their contexts' output vectors, and
through those every word that shares contexts with them: grounding reaches the whole vocabulary
through the text, while the text holds the space together.

The text updates are word2vec's: plain SGD on the per-pair loss, gradients computed in closed form
and added to the touched rows only (``index_add_``), in batches of ``text_batch_size`` pairs; at
most ``text_pairs_per_epoch`` pairs per epoch, interleaved with the image steps.
"""

from __future__ import annotations

import math
import numpy as np
import torch
from tqdm import tqdm

from pipeline.core.errors import PipelineError
from pipeline.core.params import checked
from pipeline.models.base import (
    EarlyStopping, EpochCallback, EpochLog, EpochRecorder, Projection, Trained, TrainingInputs, energy_matrix,
    prepare_features, training_center, validation_p1,
)
from pipeline.models.contrastive import (
    Batches, initial_projection, logit_scale_of, make_optimizer, noisy, scale_value, stopping_score, symmetric_loss,
    unit_rows_torch,
)
from pipeline.models.corpus_sampling import CorpusSampler
from pipeline.models.params import JointParams


class SkipGramPairs(CorpusSampler):
    """Draws skip-gram ``(centre, context, negatives)`` index arrays from the encoded corpus."""

    def __init__(self, tokens: np.ndarray, counts: np.ndarray) -> None:
        super().__init__(np.asarray(tokens, dtype=np.int64), np.asarray(counts, dtype=np.float64))

    def draw(self, rng: np.random.Generator, n_pairs: int, window: int, negatives: int,
             sample: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``n_pairs`` (or fewer, near the corpus edges) pairs from uniformly drawn centre positions."""
        stream = self.downsampled(rng, sample)
        if len(stream) < 2 or n_pairs == 0:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, np.zeros((0, negatives), dtype=np.int64)
        positions, context = self.contexts(rng, rng.integers(0, len(stream), n_pairs), window, len(stream))
        centre, context = stream.take(positions, context)
        return centre, context, self.negatives(rng, len(positions), negatives)


def skip_gram_step(words_in: torch.Tensor, words_out: torch.Tensor, centre: torch.Tensor,
                   context: torch.Tensor, noise: torch.Tensor, lr: float) -> float:
    """One SGD step of negative-sampling skip-gram on a batch of pairs; returns the summed loss.

    Gradients are computed in closed form on the gathered rows (every pair's loss is summed, as
    word2vec's per-pair updates) and added to the rows they belong to, duplicates summed.
    """
    e = words_in[centre]                                    # (n, d)
    rows = torch.cat([context.unsqueeze(1), noise], 1)      # (n, 1 + k)
    u = words_out[rows]                                     # (n, 1 + k, d)
    score = torch.einsum("nd,nkd->nk", e, u)
    label = torch.zeros_like(score)
    label[:, 0] = 1.0
    signed = torch.where(label > 0, score, -score)
    loss = float(-torch.nn.functional.logsigmoid(signed).sum())
    g = torch.sigmoid(score) - label                        # d loss / d score
    grad_e = torch.einsum("nk,nkd->nd", g, u)
    grad_u = g.unsqueeze(2) * e.unsqueeze(1)
    words_in.index_add_(0, centre, grad_e, alpha=-lr)
    words_out.index_add_(0, rows.reshape(-1), grad_u.reshape(-1, e.shape[1]), alpha=-lr)
    return loss


def train(
    inputs: TrainingInputs, params: JointParams, seed: int, on_epoch: EpochCallback | None = None,
) -> Trained:
    """Train skip-gram and the contrastive image loss together; every word learnable.

    Returns
    -------
    Trained
        ``Projection(W, center, normalize_features, "own")``; ``word_vectors`` the whole vocabulary's
        (V, d) input vectors; one :class:`EpochLog` per epoch (``loss``: the image loss,
        ``active_share``: the share of batch images whose top word is theirs, ``val_p1`` by
        ``params.energy`` against the model's own vectors); ``summary["text_loss"]``: the mean
        skip-gram loss per pair of every epoch.
    """
    checked(params, "train.joint")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    data = inputs.data
    batches = Batches.build(data)
    pretrained = np.asarray(inputs.vectors.vectors, dtype=np.float32)
    output = np.asarray(inputs.output_vectors, dtype=np.float32)
    if output.shape != pretrained.shape:
        raise PipelineError(
            f"word2vec model: output vectors {output.shape} do not match the input vectors {pretrained.shape}; "
            "rerun pretrain"
        )
    pairs = SkipGramPairs(inputs.tokens, inputs.counts)
    if params.text_pairs_per_epoch and len(pairs.tokens) < 2:
        raise PipelineError("corpus: fewer than 2 in-vocabulary tokens, no skip-gram pair to train on; "
                            "rerun fetch_corpus and pretrain")
    center = training_center(data, params.normalize_features, params.center_features)
    prepared = prepare_features(data.features, params.normalize_features, center)
    features = torch.from_numpy(np.ascontiguousarray(prepared))

    words_in = torch.from_numpy(pretrained.copy())
    words_out = torch.from_numpy(output.copy())
    mapped = torch.from_numpy(batches.mapped)
    start_mapped = words_in[mapped].clone()
    projection = initial_projection(data, pretrained, params).requires_grad_(True)
    log_scale = logit_scale_of(params)
    mapped_words = start_mapped.clone().requires_grad_(True)
    groups = [{"params": [projection], "lr": params.lr, "weight_decay": params.weight_decay},
              {"params": [mapped_words], "lr": params.word_lr, "weight_decay": 0.0}]
    if params.learn_temperature:
        groups.append({"params": [log_scale], "lr": params.lr, "weight_decay": 0.0})
    optimizer = make_optimizer(groups, params)

    stopper = EarlyStopping(params.patience)
    log = EpochRecorder(on_epoch)
    text_losses: list[float] = []
    n_train = len(batches.train_images)
    image_steps = math.ceil(n_train / params.batch_size)
    for epoch in range(1, params.epochs + 1):
        order = batches.epoch_order(rng, params.batch_size, params.sister_share)
        centre, context, noise = (torch.from_numpy(a) for a in pairs.draw(
            rng, params.text_pairs_per_epoch, params.window, params.negatives, params.sample))
        text_batches = math.ceil(len(centre) / params.text_batch_size)
        total, hits, text_total, done = 0.0, 0.0, 0.0, 0
        with torch.no_grad():
            for step in tqdm(range(image_steps), desc=f"joint epoch {epoch}/{params.epochs}", unit="step",
                             mininterval=1, leave=False):
                for t in range(step * text_batches // image_steps, (step + 1) * text_batches // image_steps):
                    chunk = slice(t * params.text_batch_size, (t + 1) * params.text_batch_size)
                    text_total += skip_gram_step(words_in, words_out, centre[chunk], context[chunk],
                                                 noise[chunk], params.text_lr)
                mapped_words.copy_(words_in[mapped])  # the text steps moved them too
                rows = torch.from_numpy(order[step * params.batch_size:(step + 1) * params.batch_size])
                with torch.enable_grad():
                    v = noisy(features[rows], params.feature_noise) @ projection
                    logits = scale_value(log_scale) * energy_matrix(v, mapped_words, params.energy, unit_rows_torch)
                    loss, hit = symmetric_loss(logits, batches.incidence[rows], params.multi_positive)
                    if params.anchor:
                        loss = loss + params.anchor * (mapped_words - start_mapped).pow(2).sum(1).mean()
                    optimizer.zero_grad()
                    loss.backward()
                optimizer.step()
                words_in[mapped] = mapped_words
                total += float(loss)
                hits += hit
                done += 1
        current = projection.detach().numpy().copy()
        vectors = words_in.numpy().copy()
        projected = prepared @ current
        val_p1 = validation_p1(projected, vectors, data, params.energy)
        text_losses.append(text_total / max(len(centre), 1))
        log.add(EpochLog(epoch, total / done, hits / done, val_p1))
        score = stopping_score(params, val_p1, projected, vectors, data)
        if stopper.update(epoch, score, (current, vectors)):
            break
    current, vectors = stopper.best_state
    return Trained(
        projection=Projection(current, center, params.normalize_features, "own"),
        word_vectors=vectors,
        log=log.entries,
        kept_epoch=stopper.best_epoch,
        summary={"text_loss": [round(x, 5) for x in text_losses],
                 "temperature": round(float(1 / scale_value(log_scale.detach())), 5),
                 "stop_on": params.stop_on, "stopping_score": round(stopper.best_score, 4)},
    )
