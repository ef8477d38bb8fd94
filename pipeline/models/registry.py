"""The model registry: every model the train stage can fit, by the name used in ``train.models``.

A model is a module with a frozen params dataclass (its ``train.<name>`` section of params.yaml) and
a train function ``train(inputs: TrainingInputs, params, seed: int, on_epoch=None) -> Trained`` that
hands each epoch's log to ``on_epoch`` as the epoch ends. Adding a model is one module, one line below
and one params section.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pipeline.core.errors import PipelineError
from pipeline.core.params import did_you_mean, from_mapping, read_params
from pipeline.models.params import ContrastiveParams, DeviseParams, IESGParams, JointParams, L2Params

if TYPE_CHECKING:
    from pipeline.models.base import EpochCallback, Trained, TrainingInputs


@dataclass(frozen=True)
class ModelSpec:
    """A registered model: its params dataclass, the module of ``pipeline.models`` with its train function, a
    one-line description, whether it trains on the corpus (``reads_text``: the train stage reads the corpus and
    word2vec's output vectors for it), and the values its params take where they differ from the dataclass's
    defaults (a variant)."""

    params: type
    module: str
    description: str
    reads_text: bool = False
    defaults: dict[str, Any] = field(default_factory=dict)

    def read_params(self, mapping: Any, where: str) -> Any:
        """The params dataclass from a params.yaml section (None: all defaults)."""
        if mapping is not None and not isinstance(mapping, dict):
            raise PipelineError(f"params {where}: expected a mapping, got {type(mapping).__name__}")
        return from_mapping(self.params, {**self.defaults, **(mapping or {})}, where)

    def train(self, inputs: TrainingInputs, params: Any, seed: int, on_epoch: EpochCallback | None = None) -> Trained:
        """Fit the model; its module (and torch) is imported here, so that reading params stays fast."""
        return importlib.import_module(f"pipeline.models.{self.module}").train(inputs, params, seed, on_epoch)


REGISTRY: dict[str, ModelSpec] = {
    "l2": ModelSpec(L2Params, "l2", "ridge regression of word vectors on image features (the paper's baseline)"),
    "devise": ModelSpec(DeviseParams, "devise", "DeViSE ranking hinge against frozen unit word vectors"),
    "iesg": ModelSpec(IESGParams, "iesg", "Image-Enhanced Skip-Gram (Luo): corpus windows + image hinge",
                      reads_text=True),
    "iesg_paper": ModelSpec(IESGParams, "iesg", "IESG with the paper's objective as written, beside the tuned one",
                            reads_text=True, defaults={"setting": "paper"}),
    "contrastive": ModelSpec(ContrastiveParams, "contrastive",
                             "symmetric InfoNCE between projected images and mapped word vectors"),
    "contrastive_frozen": ModelSpec(ContrastiveParams, "contrastive",
                                    "contrastive with the pretrained word vectors frozen (zero-shot ready)",
                                    defaults={"update_words": False}),
    "joint": ModelSpec(JointParams, "joint",
                       "skip-gram negative sampling and contrastive image loss trained together, every word learnable",
                       reads_text=True),
}


def get_model(name: str) -> ModelSpec:
    """The registered model ``name``; an unknown name is one error naming the known ones."""
    if name not in REGISTRY:
        raise PipelineError(f"params train.models: unknown model {name!r}{did_you_mean(name, REGISTRY)}; "
                            f"known models: {', '.join(REGISTRY)}")
    return REGISTRY[name]


@dataclass(frozen=True)
class TrainConfig:
    """The ``train`` section: the shared seed, the models to train in order, and each model's params."""

    seed: int
    models: list[str]
    sections: dict[str, Any]


def load_train_config(path: str = "params.yaml") -> TrainConfig:
    """Read ``train`` from ``path``: ``seed``, ``models`` (registered names) and one section per model.

    Every model in ``models`` needs a section (its train stage depends on it; ``{}`` keeps the
    defaults); a section whose name is not registered is refused (a misspelt one would be ignored).
    """
    section = read_params(path).get("train")
    if not isinstance(section, dict):
        raise PipelineError(f"{path}: section 'train' is missing or not a mapping; add it (see the README)")
    seed = section.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise PipelineError(f"params train.seed: expected int, got {seed!r}")
    models = section.get("models")
    if not isinstance(models, list) or not models or not all(isinstance(m, str) for m in models):
        raise PipelineError(f"params train.models: expected a non-empty list of model names, got {models!r}")
    for name in models:
        get_model(name)
    if len(set(models)) != len(models):
        raise PipelineError(f"params train.models: a model is listed twice in {models}")
    sections = {}
    for key, value in section.items():
        if key in ("seed", "models"):
            continue
        if key not in REGISTRY:
            raise PipelineError(
                f"params train.{key}: not a registered model{did_you_mean(key, [*REGISTRY, 'seed', 'models'])}; "
                f"known models: {', '.join(REGISTRY)} (or seed, models)"
            )
        sections[key] = REGISTRY[key].read_params(value, f"train.{key}")
    missing = [name for name in models if name not in sections]
    if missing:
        raise PipelineError(f"params train: no section for {', '.join(missing)} of train.models; add "
                            f"train.{missing[0]} (an empty mapping {{}} keeps its defaults: DVC tracks it per model)")
    return TrainConfig(seed, models, sections)
