"""Which trained model a user sees by default: the one with the best validation P@1.

"Best" is read from each model's ``train.json`` (``val_p1``: the full-ranking validation P@1 of the epoch
the train stage kept, the number ``metrics/<model>.json`` reports as ``val_p1``). The evaluate
stage (``evaluate.analysis_model: best``), the Python API and the ``iesg`` commands all resolve the name
``best`` with :func:`resolve_model`, so they agree on one model.
"""

from __future__ import annotations

import math
from typing import Mapping

from pipeline.core.errors import PipelineError

BEST = "best"


def best_model(val_p1: Mapping[str, float]) -> str:
    """The model with the highest validation P@1; a tie goes to the first in ``val_p1``'s order
    (``train.models``' order); a model without a value (NaN) is never best."""
    scored = [(name, value) for name, value in val_p1.items() if not math.isnan(value)]
    if not scored:
        raise PipelineError(f"no trained model has a validation P@1 ({', '.join(val_p1) or 'no models'}); "
                            "rerun train")
    return max(scored, key=lambda item: item[1])[0]  # max keeps the first of equal values


def resolve_model(name: str, val_p1: Mapping[str, float]) -> str:
    """``name`` itself, or for ``best`` the model :func:`best_model` picks among ``val_p1``."""
    return best_model(val_p1) if name == BEST else name


def chosen_by(requested: str, chosen: str, val_p1: Mapping[str, float], among: str = "") -> str:
    """Why ``chosen`` is the model: ``named`` when asked for by name, else ``best validation P@1 0.569``
    (followed by ``among``, e.g. ``of the models that learn word vectors``, when only some competed)."""
    if requested != BEST:
        return "named"
    return " ".join(filter(None, ["best validation P@1", among, f"{val_p1[chosen]:.3f}"]))


def model_label(name: str, reason: str) -> str:
    """``joint (best validation P@1 0.569)``, or the bare name of a model asked for by name."""
    return name if reason == "named" else f"{name} ({reason})"
