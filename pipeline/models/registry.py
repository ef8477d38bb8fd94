"""The model registry: every model the train stage can fit, by the name used in ``train.models``, and
every fact about a model that the rest of the project reads (label, the paper's numbers, variants).

A model is a module with a frozen params dataclass (its ``train.<name>`` section of params.yaml) and
a train function ``train(inputs: TrainingInputs, params, seed: int, on_epoch=None) -> Trained`` that
hands each epoch's log to ``on_epoch`` as the epoch ends. Adding a model is one module, one entry
below and one params section (README, "Adding a model").

The registry imports a model's module only when that model's params or train function are asked for,
so that the train stage of one model runs (and, in dvc.yaml, depends on) that model's code alone.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable

from pipeline.core.errors import PipelineError
from pipeline.core.params import did_you_mean, from_mapping, read_params

if TYPE_CHECKING:
    from pipeline.models.base import EpochCallback, Trained, TrainingInputs

PrecisionAtK = tuple[float, float, float]  # P@1, P@5, P@10 in percent

PAPER_MODEL = "iesg"
"""The model the paper introduces (its paper numbers head the report; its analysis: ``--model iesg --score dot``)."""
BASELINE_MODEL = "l2"
"""The paper's baseline: what every model is compared with (evaluate's reference, the CLI's comparison)."""
BUILT_IN_PARAMS = "pipeline.models.params"
"""The torch-free module of the built-in models' params dataclasses."""
GROUNDED_SPACE_MODEL = "joint"
"""The grounded model shown first: its word space is a headline metric beside the pretrained one, and the
explorer page opens on it."""


@dataclass(frozen=True)
class ModelSpec:
    """A registered model.

    Attributes
    ----------
    module : str
        The module that defines the model; ``module.train`` is its train function (imported on first use).
    params_class : str
        Name of its params dataclass, in ``params_module``.
    label : str
        How tables name it (the README's results tables).
    description : str
        One line on what it is.
    reads_text : bool
        It trains on the corpus: the train stage reads the corpus and word2vec's output vectors for it.
    defaults : dict
        Values its params take where they differ from the dataclass's defaults (a variant).
    paper_matching : dict
        Luo's reported P@1/5/10 (percent) per direction (``image_to_word``, ``word_to_image``); empty
        for a model the paper does not report.
    paper_similarity : dict
        Luo's reported Spearman per word-similarity benchmark (Table 3).
    params_module : str or None
        The module of the params dataclass; None: ``module``. The built-in models keep theirs in the
        torch-free ``pipeline.models.params``, so that params are checked before torch is imported.
    """

    module: str
    params_class: str
    label: str
    description: str
    reads_text: bool = False
    defaults: dict[str, Any] = field(default_factory=dict)
    paper_matching: dict[str, PrecisionAtK] = field(default_factory=dict)
    paper_similarity: dict[str, float] = field(default_factory=dict)
    params_module: str | None = None

    def code(self) -> ModuleType:
        """The model's module, imported now if it was not yet."""
        return importlib.import_module(self.module)

    @property
    def params(self) -> type:
        return getattr(importlib.import_module(self.params_module or self.module), self.params_class)

    @property
    def train(self) -> Callable[[TrainingInputs, Any, int, EpochCallback | None], Trained]:
        return self.code().train

    def variant(self, label: str, description: str, **defaults: Any) -> ModelSpec:
        """The same model with other params defaults (and no paper numbers of its own)."""
        return replace(self, label=label, description=description, defaults={**self.defaults, **defaults},
                       paper_matching={}, paper_similarity={})

    def read_params(self, mapping: Any, where: str) -> Any:
        """The params dataclass from a params.yaml section (None: all defaults)."""
        if mapping is not None and not isinstance(mapping, dict):
            raise PipelineError(f"params {where}: expected a mapping, got {type(mapping).__name__}")
        return from_mapping(self.params, {**self.defaults, **(mapping or {})}, where)



_IESG = ModelSpec(
    "pipeline.models.iesg", "IESGParams", "IESG", "Image-Enhanced Skip-Gram (Luo): corpus windows + image hinge",
    reads_text=True, params_module=BUILT_IN_PARAMS,
    paper_matching={"image_to_word": (62.9, 80.1, 85.8), "word_to_image": (31.0, 52.3, 62.5)},
    paper_similarity={"ws353_similarity": 0.680, "ws353_relatedness": 0.593},
)
_CONTRASTIVE = ModelSpec("pipeline.models.contrastive", "ContrastiveParams", "contrastive (grounded)",
                         "symmetric InfoNCE between projected images and mapped word vectors",
                         params_module=BUILT_IN_PARAMS)

REGISTRY: dict[str, ModelSpec] = {  # in the order tables list them
    "l2": ModelSpec("pipeline.models.l2", "L2Params", "L2",
                    "ridge regression of word vectors on image features (the paper's baseline)",
                    paper_matching={"image_to_word": (28.8, 55.4, 69.3), "word_to_image": (28.3, 46.6, 56.9)},
                    params_module=BUILT_IN_PARAMS),
    "devise": ModelSpec("pipeline.models.devise", "DeviseParams", "DeViSE",
                        "DeViSE ranking hinge against frozen unit word vectors", params_module=BUILT_IN_PARAMS),
    "iesg": _IESG,
    "iesg_paper": _IESG.variant("IESG (paper setting)",
                                "IESG with the paper's objective as written, beside the tuned one", setting="paper"),
    "contrastive_frozen": _CONTRASTIVE.variant("contrastive (frozen words)",
                                               "contrastive with the pretrained word vectors frozen (zero-shot ready)",
                                               update_words=False, temperature=0.07, learn_temperature=True),
    "contrastive": _CONTRASTIVE,
    "joint": ModelSpec("pipeline.models.joint", "JointParams", "joint",
                       "skip-gram negative sampling and contrastive image loss trained together, every word learnable",
                       reads_text=True, params_module=BUILT_IN_PARAMS),
}

PAPER_PRETRAINED_SIMILARITY = {"ws353_similarity": 0.702, "ws353_relatedness": 0.604}
"""Luo's reported Spearman of the skip-gram vectors that IESG starts from (Table 3)."""


def get_model(name: str) -> ModelSpec:
    """The registered model ``name``; an unknown name is one error naming the known ones."""
    if name not in REGISTRY:
        raise PipelineError(f"params train.models: unknown model {name!r}{did_you_mean(name, REGISTRY)}; "
                            f"known models: {', '.join(REGISTRY)}")
    return REGISTRY[name]


def paper_matching(name: str, direction: str) -> PrecisionAtK | None:
    """Luo's P@1/5/10 of model ``name`` in ``direction``; None where the paper reports none (also for a name
    outside the registry, such as evaluate's ``random`` baseline)."""
    return REGISTRY[name].paper_matching.get(direction) if name in REGISTRY else None


@dataclass(frozen=True)
class TrainConfig:
    """The ``train`` section: the shared seed, the models to train in order, and each model's params."""

    seed: int
    models: list[str]
    sections: dict[str, Any]


def load_train_config(path: str = "params.yaml", only: str | None = None) -> TrainConfig:
    """Read ``train`` from ``path``: ``seed``, ``models`` (registered names) and one section per model.

    Every model in ``models`` needs a section (its train stage depends on it; ``{}`` keeps the
    defaults); a section whose name is not registered is refused (a misspelt one would be ignored).
    With ``only`` a model's name, only that model's section is read into its params (the train stage of
    one model imports that model's code alone); the other sections' names are still checked.
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
        if only is None or key == only:
            sections[key] = REGISTRY[key].read_params(value, f"train.{key}")
    missing = [name for name in models if name not in section]
    if missing:
        raise PipelineError(f"params train: no section for {', '.join(missing)} of train.models; add "
                            f"train.{missing[0]} (an empty mapping {{}} keeps its defaults: DVC tracks it per model)")
    return TrainConfig(seed, models, sections)
