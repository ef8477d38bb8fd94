"""A run of the pipeline (a project root after ``dvc repro``) and its trained models, queried as the evaluate
stage scores them.

Everything is read on first use, through :mod:`pipeline.api.run_files`, and kept: a :class:`Run` answers
many queries of several models from one read of the features and vectors.

A model maps an image's CNN feature to the word space with its projection and is scored against its word
vectors (those it learnt, or the pretrained ones): ``dot`` is the inner product (the paper's energy E),
``cos`` the cosine. A phrase ("ice cream") is the mean of its words' vectors as stored (not unit-normalised
first); an image counts as linked to a phrase when it is linked to one of its words.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
from gensim.models import KeyedVectors

from pipeline.api import run_files
from pipeline.api.queries import query_words, unknown
from pipeline.api.results import ImageHit, ImageQuery, ImagesForWord, Neighbour, Neighbours, WordHit, WordsForImage
from pipeline.core.errors import PipelineError
from pipeline.evaluation.model_choice import BEST, best_model, chosen_by, model_label
from pipeline.evaluation.params import EvaluateParams
from pipeline.evaluation.protocol import SCORES, MatchingData, Matcher, word_matrix
from pipeline.evaluation.retrieval import RETRIEVALS, corrected_scores
from pipeline.models.base import energy_rows, unit_rows

SPLITS = ("all", "train", "val", "test")


def retrieval_scores(query: np.ndarray, items: np.ndarray, query_space: np.ndarray, score: str,
                     retrieval: str, settings: EvaluateParams) -> np.ndarray:
    """The score of each item row for one query vector, by ``retrieval`` (:mod:`pipeline.evaluation.retrieval`).

    ``query_space`` holds every vector of the query's kind (all mapped words for a word query, all images
    for an image query): a hubness correction (``csls``, ``inverted_softmax``) ranks an item by how close it
    is to the query compared with how close it is to queries in general, with the run's
    ``evaluate.retrieval_k`` and ``retrieval_temperature`` (``settings``). ``plain`` scores by ``score`` alone and leaves it unused.
    """
    if retrieval not in RETRIEVALS:
        raise PipelineError(f"retrieval {retrieval!r}: unknown; known: {', '.join(RETRIEVALS)}")
    queries, rows = energy_rows(query[None], items, score)
    plain = rows @ queries[0]
    if retrieval == "plain":
        return plain
    population, _ = energy_rows(query_space, items, score)
    return corrected_scores(plain[None], retrieval, k=settings.retrieval_k, temperature=settings.retrieval_temperature,
                            population=population @ rows.T)[0]


def top_indices(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` highest scores, best first (ties by index)."""
    return np.argsort(-scores, kind="stable")[:k]


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


class GroundedModel:
    """A trained model of a :class:`~pipeline.api.run.Run`: ``name`` a model of ``train.models`` or ``best``
    (the best validation P@1; with ``word_vectors``, of the models that learn word vectors), scored by
    ``score`` (``dot`` or ``cos``; default the run's headline score)."""

    def __init__(self, run: Run, name: str = BEST, score: str | None = None, word_vectors: bool = False) -> None:
        self.run = run
        self.name = run.model_name(name, word_vectors)
        restricted = word_vectors and name == BEST and run.model_name(BEST) != self.name
        self.chosen = chosen_by(name, self.name, run.val_p1 if name == BEST else {},
                                "of the models that learn word vectors" if restricted else "")
        self.score = run.headline_score if score is None else score
        self._checked_score(self.score)
        self._vectors: KeyedVectors | None = None

    def __repr__(self) -> str:
        return f"GroundedModel({self.name!r}, score={self.score!r}, chosen={self.chosen!r}, root={str(self.run.root)!r})"

    @property
    def label(self) -> str:
        """``joint (best validation P@1 0.569)``, or the bare name of a model asked for by name."""
        return model_label(self.name, self.chosen)

    def _checked_score(self, score: str | None) -> str:
        """``score``, or the model's own for None; an unknown one is an error."""
        score = self.score if score is None else score
        if score not in SCORES:
            raise PipelineError(f"score {score!r}: unknown; known: {', '.join(SCORES)}")
        return score

    @cached_property
    def _matcher(self) -> Matcher:
        data = self.run.data
        projection, self._vectors = run_files.read_model(self.run.paths, self.name, data.features.shape[1],
                                                         self.run.pretrained)
        return Matcher(projection, word_matrix(self._vectors, data.words))

    @cached_property
    def _projected_images(self) -> np.ndarray:
        return self._matcher.projection.project(self.run.data.features)

    @property
    def keyed_vectors(self) -> KeyedVectors:
        """The word vectors the model is scored against (gensim): those it learnt, grounded by the images,
        else the pretrained ones."""
        if self._vectors is None:
            learnt = self.run.learns_word_vectors(self.name)
            self._vectors = (run_files.read_learnt_vectors(self.run.paths, self.name, self.run.pretrained)
                             if learnt else self.run.pretrained)
        return self._vectors

    def _vectors_file(self) -> Path:
        if self.run.learns_word_vectors(self.name):
            return run_files.learnt_vectors_file(self.run.paths, self.name)
        return self.run.paths.vectors

    def _query_vector(self, text: str, vectors: KeyedVectors, where: Path) -> tuple[list[str], np.ndarray]:
        words = query_words(text)
        for word in words:
            if word not in vectors.key_to_index:
                raise unknown(word, f"not in the vocabulary of {where}", vectors.index_to_key)
        return words, np.mean([vectors[word] for word in words], axis=0)

    def images_for_word(self, word: str, k: int = 5, split: str = "all", score: str | None = None,
                        retrieval: str = "plain") -> ImagesForWord:
        """The top ``k`` mapped images for a word or phrase (the mean of its words' vectors).

        ``split``: the candidate images, ``all`` (default) or those of ``train``, ``val`` or ``test``;
        ``score``: ``dot`` or ``cos`` (default the model's); ``retrieval``: how candidates are ranked
        (``plain``). ``linked_images`` counts the candidates linked to the query's words.
        """
        if split not in SPLITS:
            raise PipelineError(f"split {split!r}: unknown; known: {', '.join(SPLITS)}")
        score = self._checked_score(score)
        data, matcher = self.run.data, self._matcher
        words, query = self._query_vector(word, self.keyed_vectors, self._vectors_file())
        rows = np.array([i for i, s in enumerate(data.splits) if split in ("all", s)], dtype=np.int64)
        scores = retrieval_scores(query, self._projected_images[rows], matcher.word_vectors, score, retrieval,
                                  self.run.evaluate_params)
        mapped = {w: i for i, w in enumerate(data.words)}
        linked = {int(image) for w in words if w in mapped for image in data.word_images[mapped[w]]}
        top = [ImageHit(rank + 1, data.image_ids[rows[i]], data.splits[rows[i]], float(scores[i]),
                        int(rows[i]) in linked, data.paths[rows[i]])
               for rank, i in enumerate(top_indices(scores, k))]
        return ImagesForWord(" ".join(words), words, self.name, self.chosen, score, retrieval, split, len(rows),
                             sum(int(row) in linked for row in rows), top)

    def words_for_image(self, image: str | os.PathLike, k: int = 5, score: str | None = None,
                        retrieval: str = "plain") -> WordsForImage:
        """The top ``k`` mapped words for an image.

        ``image``: an image id of images.csv (its features from features.h5); the file of a mapped image (a
        ``data/images`` path, as :meth:`images_for_word` returns it), which is that image; or any other image
        file, featurized now with the run's encoder (``features`` params, as the featurize stage does).
        """
        score = self._checked_score(score)
        query, feature = self.run.image(image)
        data, matcher = self.run.data, self._matcher
        scores = retrieval_scores(matcher.projection.project(feature[None])[0], matcher.word_vectors,
                                  self._projected_images, score, retrieval, self.run.evaluate_params)
        linked = set(query.linked_words)
        top = [WordHit(rank + 1, data.words[w], float(scores[w]), data.words[w] in linked)
               for rank, w in enumerate(top_indices(scores, k))]
        return WordsForImage(query, self.name, self.chosen, score, retrieval, len(data.words), top)

    def neighbours(self, word: str, k: int = 10) -> Neighbours:
        """The ``k`` nearest words (cosine, the query's words left out) of a word or phrase (the mean of its
        words' vectors) by the pretrained vectors and by the vectors the model learnt (refused for a model
        that learns none: its word space is the pretrained one)."""
        run = self.run
        words, before = self._query_vector(word, run.pretrained, run.paths.vectors)
        if not run.learns_word_vectors(self.name):
            learners = [m for m in run.trained_models if run.learns_word_vectors(m)]
            raise PipelineError(f"{run_files.learnt_vectors_file(run.paths, self.name)}: model {self.name!r} learns "
                                f"no word vectors; models that do: {', '.join(learners) or 'none (run train)'}")
        grounded = self.keyed_vectors
        _, after = self._query_vector(word, grounded, self._vectors_file())
        linked_images = int(run.links.loc[run.links["word"].isin(words), "image_id"].nunique())
        moved = float(unit_rows(before[None])[0] @ unit_rows(after[None])[0])
        return Neighbours(" ".join(words), words, self.name, self.chosen, linked_images,
                          moved, nearest(run.pretrained, before, words, k), nearest(grounded, after, words, k))


def nearest(vectors: KeyedVectors, query: np.ndarray, leave_out: list[str], k: int) -> list[Neighbour]:
    """The ``k`` words of ``vectors`` with the highest cosine to ``query``, ``leave_out`` excluded."""
    cosines = vectors.get_normed_vectors() @ unit_rows(query[None].astype(np.float32))[0]
    cosines[[vectors.key_to_index[w] for w in leave_out]] = -np.inf
    return [Neighbour(rank + 1, vectors.index_to_key[i], float(cosines[i]))
            for rank, i in enumerate(top_indices(cosines, k))]


def load_model(root: str | os.PathLike = ".", model: str = BEST, score: str | None = None,
               **paths: str | os.PathLike) -> GroundedModel:
    """Model ``model`` (default: the best validation P@1) of the run at ``root``, ready for queries."""
    return Run(root, **paths).model(model, score)
