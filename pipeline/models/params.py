"""Every model's params dataclass (its ``train.<name>`` section of params.yaml), apart from the models' code.

This module imports neither torch nor gensim, so that the train stage and ``check_params`` validate the
params in a fraction of a second, before the seconds of importing them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Annotated, Literal

from pipeline.core.params import AT_LEAST_ONE, NON_NEGATIVE, POSITIVE, Range

Energy = Literal["dot", "cos"]


@dataclass(frozen=True)
class L2Params:
    """The L2 baseline (``train.l2``).

    Parameters
    ----------
    ridge : float
        The penalty as a share of the mean diagonal of the (link-weighted) Gram matrix ``F^T F``,
        so that one value means the same for raw and for unit-normalised features.
    normalize_features, center_features : bool
        Scale each CNN feature to unit length, then subtract the mean training feature, before regressing.
    """

    ridge: Annotated[float, NON_NEGATIVE] = 1e-2
    normalize_features: bool = True
    center_features: bool = True


@dataclass(frozen=True)
class DeviseParams:
    """The DeViSE baseline (``train.devise``).

    Parameters
    ----------
    margin : float
        Hinge margin (Frome et al.: 0.1).
    negatives : int
        Mapped words drawn per training link (those linked to the image are masked out).
    lr, momentum, batch_size : float, float, int
        Momentum SGD on ``W_p``.
    epochs : int
        Passes over the training links; the last epoch is kept.
    """

    margin: Annotated[float, POSITIVE] = 0.1
    negatives: Annotated[int, AT_LEAST_ONE] = 10
    lr: Annotated[float, POSITIVE] = 0.01
    momentum: Annotated[float, Range(ge=0, lt=1)] = 0.9
    batch_size: Annotated[int, AT_LEAST_ONE] = 16
    epochs: Annotated[int, AT_LEAST_ONE] = 10


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
    init_ridge : float
        Ridge of the L2 solution that ``W_p`` starts from with ``init: l2`` (see ``L2Params.ridge``).
    setting : {"tuned", "paper"}
        ``tuned`` trains with the values above; ``paper`` with :data:`PAPER_IESG` (the paper's
        objective as written), keeping only ``epochs``, ``patience``, ``sample`` and
        ``max_triples_per_epoch`` from here.
    """

    lam: Annotated[float, POSITIVE] = 1.0
    margin: Annotated[float, NON_NEGATIVE] = 1.0
    negatives: Annotated[int, AT_LEAST_ONE] = 5
    energy: Energy = "dot"
    context_vectors: Literal["input", "output"] = "output"
    update_words: bool = True
    window: Annotated[int, AT_LEAST_ONE] = 5
    sample: Annotated[float, NON_NEGATIVE] = 1e-3
    max_triples_per_epoch: Annotated[int, NON_NEGATIVE] = 0
    lr: Annotated[float, POSITIVE] = 0.001
    momentum: Annotated[float, Range(ge=0, lt=1)] = 0.9
    batch_size: Annotated[int, AT_LEAST_ONE] = 16
    weight_decay: Annotated[float, NON_NEGATIVE] = 0.0
    epochs: Annotated[int, AT_LEAST_ONE] = 3
    patience: Annotated[int, NON_NEGATIVE] = 1
    init: Literal["normal", "l2"] = "l2"
    init_scale: Annotated[float, POSITIVE] = 1.0
    normalize_features: bool = True
    center_features: bool = True
    init_ridge: Annotated[float, NON_NEGATIVE] = 1e-2
    setting: Literal["tuned", "paper"] = "tuned"

    def effective(self) -> IESGParams:
        """The parameters actually trained with, after applying ``setting``."""
        if self.setting == "tuned":
            return self
        return replace(
            PAPER_IESG, epochs=self.epochs, patience=self.patience, sample=self.sample,
            max_triples_per_epoch=self.max_triples_per_epoch,
        )


PAPER_IESG = IESGParams(
    lam=5.0, margin=1.0, negatives=1, energy="dot", context_vectors="input", update_words=True,
    window=5, sample=1e-3, max_triples_per_epoch=0, lr=0.01, momentum=0.9, batch_size=16, weight_decay=0.0,
    epochs=5, patience=0, init="normal", init_scale=1.0, normalize_features=False, center_features=False,
    init_ridge=1e-2, setting="tuned",
)
"""The paper's setting: everything it states, and the plainest reading of what it leaves open."""


MAX_SCALE = 100.0
"""Upper bound of the logit scale ``1 / temperature`` (CLIP's clamp)."""
TEMPERATURE_RANGE = Range(ge=1 / MAX_SCALE, why="1 / temperature, the logit scale, is clamped to 100")


@dataclass(frozen=True)
class ImageLossParams:
    """Hyper-parameters of the contrastive image loss and its optimiser, shared by
    :class:`ContrastiveParams` and :class:`~pipeline.models.joint.JointParams`.

    Parameters
    ----------
    anchor : float
        Weight of ``mean over mapped words ||t - t_0||^2`` pulling learnable words toward their
        pretrained vectors ``t_0`` (ignored when ``update_words`` is false).
    energy : {"cos", "dot"}
        ``E`` of the logits; also the score of the validation P@1.
    temperature : float
        Initial temperature (logits are ``E / temperature``; CLIP starts at 0.07).
    learn_temperature : bool
        Learn the temperature (its log, clamped to ``1 / temperature <= 100``) or keep it fixed.
    init : {"l2", "normal"}
        ``W`` starts from the ridge regression of the pretrained word vectors on the prepared
        features (the L2 baseline in the same space) or Gaussian (std ``1 / sqrt(D)``).
    l2_ridge : float
        Ridge of that start, as a share of the mean diagonal of ``F^T F`` (as ``train.l2.ridge``).
    optimizer : {"adam", "sgd"}
        Adam, or SGD with ``momentum``, for ``W``, the temperature and the learnable words.
    lr : float
        Learning rate of ``W`` and the temperature.
    word_lr : float
        Learning rate of the learnable word vectors.
    momentum : float
        SGD momentum (``optimizer: sgd`` only).
    weight_decay : float
        L2 penalty on ``W``.
    batch_size : int
        Training images per step (the word -> image direction ranks within the batch).
    epochs : int
        Passes over the training images.
    patience : int
        Early stopping: stop after this many epochs without a better validation P@1 and keep the
        best epoch's parameters (0 disables it and keeps the last epoch).
    normalize_features : bool
        Scale each CNN feature to unit L2 norm before projecting.
    center_features : bool
        Subtract the mean (prepared) training feature before projecting.
    multi_positive : {"per_link", "per_image"}
        Averaging of the multi-positive loss: over every link of the batch, or each image's
        (word's) positives first and then the images (words), so that every image weighs the same.
    sister_share : float
        Share of each batch taken as a run of neighbouring training images in WordNet order (images
        sorted by their linked words from the most general to the most specific, so that a run holds
        sister synsets: hard negatives for word -> image); the rest of the batch is drawn at random.
        0 gives random batches.
    feature_noise : float
        Gaussian noise added to each training image's prepared feature at every step, ``feature_noise /
        sqrt(D)`` per dimension (a noise vector of norm about ``feature_noise``, against centred unit-norm
        features): a regulariser of the projection (the map overfits after a few epochs without it), drawn
        from torch's seeded generator. 0 adds none.
    stop_on : {"top1", "pairs"}
        The validation score early stopping keeps the best epoch by: ``top1``, the share of val images
        whose top-ranked mapped word is linked (every model's logged ``val_p1``), or ``pairs``, the
        evaluate protocol's P@1 on the val links, both directions averaged, each link's expectation over
        its random 99 non-linked candidates computed exactly (word -> image among the val images).
    """

    anchor: Annotated[float, NON_NEGATIVE] = 0.5
    energy: Energy = "cos"
    temperature: Annotated[float, TEMPERATURE_RANGE] = 0.05
    learn_temperature: bool = False
    init: Literal["l2", "normal"] = "normal"
    l2_ridge: Annotated[float, NON_NEGATIVE] = 0.01
    optimizer: Literal["adam", "sgd"] = "adam"
    lr: Annotated[float, POSITIVE] = 0.001
    word_lr: Annotated[float, POSITIVE] = 0.001
    momentum: Annotated[float, Range(ge=0, lt=1)] = 0.9
    weight_decay: Annotated[float, NON_NEGATIVE] = 0.0
    batch_size: Annotated[int, AT_LEAST_ONE] = 128
    epochs: Annotated[int, AT_LEAST_ONE] = 30
    patience: Annotated[int, NON_NEGATIVE] = 3
    normalize_features: bool = True
    center_features: bool = True
    multi_positive: Literal["per_link", "per_image"] = "per_image"
    sister_share: Annotated[float, Range(ge=0, le=1)] = 0.0
    feature_noise: Annotated[float, NON_NEGATIVE] = 0.5
    stop_on: Literal["top1", "pairs"] = "pairs"


@dataclass(frozen=True)
class ContrastiveParams(ImageLossParams):
    """Hyper-parameters of the contrastive model (``train.contrastive`` / ``train.contrastive_frozen``):
    those of :class:`ImageLossParams` and

    Parameters
    ----------
    update_words : bool
        Learn the mapped words' vectors (grounded words, scored as ``words: own``) or keep the
        pretrained ones frozen (the pretrained space: what zero-shot needs).
    """

    update_words: bool = True


@dataclass(frozen=True)
class JointParams(ImageLossParams):
    """Hyper-parameters of the joint model (``train.joint``); every word is learnable.

    Parameters
    ----------
    text_pairs_per_epoch : int
        Skip-gram ``(centre, context)`` pairs drawn per epoch (bounds the text cost; 0 trains the
        image loss alone, an ablation).
    text_batch_size : int
        Pairs per text step.
    text_lr : float
        SGD learning rate of the text loss (summed over the pairs of a step, as word2vec's
        per-pair updates; word2vec itself decays 0.025 to 0.0001).
    window : int
        Context window: the context is drawn uniformly within ``window`` words of the centre.
    negatives : int
        Negative words per pair (unigram^0.75).
    sample : float
        word2vec's down-sampling of frequent words (0 keeps all).
    The image loss's: as :class:`~pipeline.models.contrastive.ImageLossParams`; ``word_lr`` is the
    rate of the image loss on the mapped words' input vectors and ``anchor`` 0 leaves only the text
    holding them.
    """

    text_pairs_per_epoch: Annotated[int, NON_NEGATIVE] = 300_000
    text_batch_size: Annotated[int, AT_LEAST_ONE] = 4096
    text_lr: Annotated[float, POSITIVE] = 0.0025
    window: Annotated[int, AT_LEAST_ONE] = 5
    negatives: Annotated[int, AT_LEAST_ONE] = 5
    sample: Annotated[float, NON_NEGATIVE] = 1e-3
