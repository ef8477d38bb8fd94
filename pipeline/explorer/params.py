"""The ``explore`` section of params.yaml, apart from the page's builder and gensim (so that it is checked first)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pipeline.core.errors import PipelineError
from pipeline.core.params import AT_LEAST_ONE
from pipeline.evaluation.model_choice import BEST

Precision = Literal["float16", "float32"]


@dataclass(frozen=True)
class ExploreParams:
    """The ``explore`` section of params.yaml.

    Parameters
    ----------
    models : list of str or None
        Models on the page, in this order (names of ``train.models``); None: every model of train.models.
    default_model : str or None
        Model shown when the page opens: a name of ``models``, ``best`` (the shown model with the best
        validation P@1, as the CLI and the report choose it), or None: the first of ``models``.
    default_score : {"dot", "cos"}
        Score shown when the page opens.
    top_k : int
        Images shown for a query.
    top_words : int
        Top mapped words kept per image and score (shown when an image is clicked).
    vocabulary_size : int
        The page's vocabulary: this many most frequent corpus words, plus every mapped word.
    thumbnail_px : int
        Longest side of the JPEG thumbnails.
    precision : {"float16", "float32"}
        Storage of the image embeddings, the word vectors and the top words' scores (float16 halves
        the page; scores then carry about 3 significant digits).
    """

    models: list[str] | None = None
    default_model: str | None = BEST
    default_score: Literal["dot", "cos"] = "cos"
    top_k: Annotated[int, AT_LEAST_ONE] = 24
    top_words: Annotated[int, AT_LEAST_ONE] = 10
    vocabulary_size: Annotated[int, AT_LEAST_ONE] = 20000
    thumbnail_px: Annotated[int, AT_LEAST_ONE] = 96
    precision: Precision = "float16"

    def validate(self) -> None:
        if self.models is not None and (not self.models or len(set(self.models)) != len(self.models)):
            raise ValueError(f"models must be null or a non-empty list without repeats, got {self.models}")

    def shown_models(self, trained: list[str]) -> tuple[list[str], str]:
        """The models on the page and the one it opens with (``best`` left for the stage to resolve from the
        trained models' validation P@1); refused unless all are in ``trained``."""
        shown = list(self.models) if self.models is not None else list(trained)
        outside = [name for name in shown if name not in trained]
        if outside:
            raise PipelineError(f"params explore.models: {', '.join(outside)} not in train.models "
                                f"({', '.join(trained)})")
        default = self.default_model if self.default_model is not None else shown[0]
        if default != BEST and default not in shown:
            raise PipelineError(f"params explore.default_model: {default!r} is not one of the models shown "
                                f"({', '.join(shown)})")
        return shown, default
