"""Every model's params dataclass (its ``train.<name>`` section of params.yaml), apart from the models' code.

This module imports neither torch nor gensim, so that the train stage and ``check_params`` validate the
params in a fraction of a second, before the seconds of importing them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

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

    ridge: float = 1e-2
    normalize_features: bool = False
    center_features: bool = False

    def validate(self) -> None:
        if self.ridge < 0:
            raise ValueError(f"l2.ridge must be >= 0, got {self.ridge}")


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
    init_ridge: float = 1e-2
    setting: Literal["tuned", "paper"] = "tuned"

    def validate(self) -> None:
        for name in ("negatives", "window", "batch_size", "epochs"):
            if getattr(self, name) < 1:
                raise ValueError(f"iesg.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("lam", "lr", "init_scale"):
            if getattr(self, name) <= 0:
                raise ValueError(f"iesg.{name} must be > 0, got {getattr(self, name)}")
        for name in ("margin", "weight_decay", "sample", "max_triples_per_epoch", "patience", "init_ridge"):
            if getattr(self, name) < 0:
                raise ValueError(f"iesg.{name} must be >= 0, got {getattr(self, name)}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"iesg.momentum must be in [0, 1), got {self.momentum}")

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
    window=5, lr=0.01, momentum=0.9, batch_size=16, weight_decay=0.0, init="normal",
    normalize_features=False, center_features=False,
)
"""The paper's setting: everything it states, and the plainest reading of what it leaves open."""


MAX_SCALE = 100.0
"""Upper bound of the logit scale ``1 / temperature`` (CLIP's clamp)."""


@dataclass(frozen=True)
class ImageLossParams:
    """Hyper-parameters of the contrastive image loss and its optimiser, shared by
    :class:`ContrastiveParams` and :class:`JointParams`.

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
    """

    anchor: float = 1.0
    energy: Energy = "cos"
    temperature: float = 0.07
    learn_temperature: bool = True
    init: Literal["l2", "normal"] = "l2"
    l2_ridge: float = 0.01
    optimizer: Literal["adam", "sgd"] = "adam"
    lr: float = 0.01
    word_lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 0.0
    batch_size: int = 128
    epochs: int = 30
    patience: int = 3
    normalize_features: bool = True
    center_features: bool = True

    def check(self, name: str) -> None:
        """Refuse invalid values with one ValueError line naming ``name.<field>``."""
        for field_name in ("batch_size", "epochs"):
            if getattr(self, field_name) < 1:
                raise ValueError(f"{name}.{field_name} must be >= 1, got {getattr(self, field_name)}")
        for field_name in ("lr", "word_lr", "temperature"):
            if not getattr(self, field_name) > 0:
                raise ValueError(f"{name}.{field_name} must be > 0, got {getattr(self, field_name)}")
        for field_name in ("anchor", "weight_decay", "l2_ridge", "patience"):
            if getattr(self, field_name) < 0:
                raise ValueError(f"{name}.{field_name} must be >= 0, got {getattr(self, field_name)}")
        if self.temperature < 1 / MAX_SCALE:
            raise ValueError(f"{name}.temperature must be >= {1 / MAX_SCALE}, got {self.temperature}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"{name}.momentum must be in [0, 1), got {self.momentum}")
        choices = {"energy": ("dot", "cos"), "init": ("l2", "normal"), "optimizer": ("adam", "sgd")}
        for field_name, allowed in choices.items():
            if getattr(self, field_name) not in allowed:
                raise ValueError(f"{name}.{field_name} must be one of {', '.join(allowed)}, got {getattr(self, field_name)!r}")


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

    def validate(self) -> None:
        self.check("contrastive")


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
    The image loss's: as :class:`ImageLossParams`; ``word_lr`` is the
    rate of the image loss on the mapped words' input vectors and ``anchor`` 0 leaves only the text
    holding them.
    """

    text_pairs_per_epoch: int = 300_000
    text_batch_size: int = 4096
    text_lr: float = 0.0025
    window: int = 5
    negatives: int = 5
    sample: float = 1e-3

    def validate(self) -> None:
        self.check("joint")
        for name in ("text_batch_size", "window", "negatives"):
            if getattr(self, name) < 1:
                raise ValueError(f"joint.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("text_pairs_per_epoch", "sample"):
            if getattr(self, name) < 0:
                raise ValueError(f"joint.{name} must be >= 0, got {getattr(self, name)}")
        if not self.text_lr > 0:
            raise ValueError(f"joint.text_lr must be > 0, got {self.text_lr}")
