"""A run of the pipeline (a project root after ``dvc repro``): its trained models, mapped images and words.

Everything is read on first use, through :mod:`pipeline.api.run_files`, and kept: a :class:`Run` answers
many queries of several models from one read of the features and vectors.
"""

from __future__ import annotations

import difflib
import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np
import pandas as pd
from gensim.models import KeyedVectors

from pipeline.api import run_files
from pipeline.api.results import ImageQuery
from pipeline.core.errors import PipelineError
from pipeline.evaluation.model_choice import BEST, best_model
from pipeline.evaluation.params import EvaluateParams
from pipeline.evaluation.protocol import MatchingData

if TYPE_CHECKING:
    from pipeline.api.model import GroundedModel


def unknown(value: str, problem: str, choices: Sequence[str]) -> PipelineError:
    """The error for an unknown ``value``: what is wrong with it, and its close matches among ``choices``."""
    close = difflib.get_close_matches(value, choices, n=5, cutoff=0.6)
    hint = f"close matches: {', '.join(close)}" if close else "no close match; check the spelling"
    return PipelineError(f"{value!r}: {problem}; {hint}")


def query_words(text: str) -> list[str]:
    """The words of a word or phrase, lower-cased as the text8-style corpus has them."""
    words = text.lower().split()
    if not words:
        raise PipelineError(f"{text!r}: an empty query; give a word or a phrase")
    return words


class Run:
    """One run directory and the artifacts its stages wrote (at their ``dvc.yaml`` paths unless given).

    Parameters
    ----------
    root : path
        The project root the pipeline ran in (default: the current directory).
    **paths
        Artifacts read from elsewhere: a name of :data:`pipeline.api.run_files.ARTIFACTS` -> a path
        (relative to ``root`` unless absolute), e.g. ``features="other.h5"``.
    """

    def __init__(self, root: str | os.PathLike = ".", **paths: str | os.PathLike) -> None:
        self.paths = run_files.RunPaths.at(root, **paths)
        self._images: dict[str, tuple[ImageQuery, np.ndarray]] = {}

    @property
    def root(self) -> Path:
        return self.paths.root

    @cached_property
    def trained_models(self) -> list[str]:
        """``train.models`` of the params file, in order."""
        return run_files.read_trained_names(self.paths)

    @cached_property
    def val_p1(self) -> dict[str, float]:
        """Each trained model's validation P@1 (its train.json), in ``train.models`` order."""
        return {name: run_files.read_val_p1(self.paths, name) for name in self.trained_models}

    @cached_property
    def evaluate_params(self) -> EvaluateParams:
        """The run's ``evaluate`` section, read once: the defaults of queries come from it."""
        return run_files.read_evaluate_params(self.paths)

    @property
    def headline_score(self) -> str:
        """The score the run's headline metrics use (``evaluate.headline_score``): the default of queries."""
        return self.evaluate_params.headline_score

    def default_retrieval(self, direction: str) -> str:
        """How the run's evaluation ranks full retrievals in ``direction`` (``evaluate.retrieval``:
        ``word_to_image`` or ``image_to_word``), the CLI's default."""
        return getattr(self.evaluate_params.retrieval, direction)

    @property
    def reference_model(self) -> str:
        """The baseline the evaluation compares every model with (``evaluate.reference_model``)."""
        return self.evaluate_params.reference_model

    @cached_property
    def pretrained(self) -> KeyedVectors:
        """The pretrain stage's word vectors."""
        return run_files.read_pretrained(self.paths)

    @cached_property
    def links(self) -> pd.DataFrame:
        """links.csv (``word``, ``image_id``)."""
        return run_files.read_links(self.paths)

    @cached_property
    def data(self) -> MatchingData:
        """The images with features, the mapped words and their links, as the evaluate stage joins them."""
        return run_files.read_matching_data(self.paths, self.pretrained)

    def learns_word_vectors(self, name: str) -> bool:
        """Whether model ``name`` learnt word vectors of its own (else it is scored against the pretrained)."""
        return run_files.learns_word_vectors(self.paths, name)

    def model_name(self, name: str = BEST, word_vectors: bool = False) -> str:
        """A model of ``train.models``; ``best``: the one with the best validation P@1 (among those that
        learn word vectors, with ``word_vectors``). An unknown name is an error listing the trained ones."""
        if name == BEST:
            pool = {m: v for m, v in self.val_p1.items() if not word_vectors or self.learns_word_vectors(m)}
            if not pool:
                raise PipelineError(f"{self.paths.models}: no model of train.models learns word vectors")
            return best_model(pool)
        if name not in self.trained_models:
            raise unknown(name, f"not a model of train.models in {self.paths.params} "
                                f"({', '.join(self.trained_models)})", self.trained_models)
        return name

    def model(self, name: str = BEST, score: str | None = None, word_vectors: bool = False) -> GroundedModel:
        """Model ``name`` (default: the best validation P@1, of the models that learn word vectors with
        ``word_vectors``) ready for queries, scored by ``score`` (default the run's headline score)."""
        from pipeline.api.model import GroundedModel  # it imports this module

        return GroundedModel(self, name, score, word_vectors)

    def image(self, image: str | os.PathLike) -> tuple[ImageQuery, np.ndarray]:
        """The image a query names and its CNN feature vector.

        ``image`` is an image id of images.csv; or the file of a mapped image (a ``data/images`` path as
        :meth:`GroundedModel.images_for_word` returns it, relative to the current directory or to the run's
        root), which is that image; or any other image file, featurized now by the run's encoder.
        """
        key = os.fspath(image)
        if key not in self._images:
            self._images[key] = self._locate(key)
        return self._images[key]

    def _locate(self, image: str) -> tuple[ImageQuery, np.ndarray]:
        data = self.data
        row = data.image_ids.index(image) if image in data.image_ids else self._mapped_file_row(image)
        if row is not None:
            return (ImageQuery(data.image_ids[row], data.paths[row], data.splits[row],
                               [data.words[w] for w in data.image_words[row]]), data.features[row])
        if Path(image).is_file():
            return ImageQuery(None, image, None, []), run_files.featurize_image_file(self.paths, Path(image))
        raise unknown(image, f"neither an image id in {self.paths.features} nor an image file", data.image_ids)

    def _mapped_file_row(self, image: str) -> int | None:
        given = Path(image)
        files = [given] if given.is_absolute() else [given, self.root / given]
        existing = [f.resolve() for f in files if f.is_file()]
        if not existing:
            return None
        rows = self._mapped_files
        return next((rows[f] for f in existing if f in rows), None)

    @cached_property
    def _mapped_files(self) -> dict[Path, int]:
        return run_files.resolved_image_files(self.paths, self.data.paths)


def load_model(root: str | os.PathLike = ".", model: str = BEST, score: str | None = None,
               **paths: str | os.PathLike) -> GroundedModel:
    """Model ``model`` (default: the best validation P@1) of the run at ``root``, ready for queries."""
    return Run(root, **paths).model(model, score)
