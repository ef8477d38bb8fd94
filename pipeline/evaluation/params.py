"""The ``evaluate`` section of params.yaml."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class EvaluateParams:
    """The ``evaluate`` section of params.yaml.

    Parameters
    ----------
    candidates : int
        Size of each ranked candidate set: the true item plus ``candidates - 1`` negatives
        (the paper: 100).
    seed : int
        Seed of the negative sampling, the random-projection baseline and the example choice.
    ks : list of int
        The k of the reported P@k.
    frequency_edges : list of int
        Increasing corpus-count edges of the word-frequency buckets (``[100, 1000, 10000]``
        gives <100, 100-1k, 1k-10k, >=10k).
    image_pool : {"heldout", "test", "all"}
        Where word -> image negatives come from: validation and test images (the default), test
        images only, or every mapped image (training images included: flatters models trained
        with image negatives; kept to compare with earlier runs).
    bootstrap_resamples : int
        Resamples of the test images behind each 95% interval (0: no intervals).
    reference_model : str
        The model every other one is compared with (paired differences of P@k).
    headline_score : {"dot", "cos"}
        Score of the test P@1 in the headline metrics (``dvc metrics``).
    headline_spaces : list of str
        Word spaces (``pretrained`` or a model that learns word vectors) whose similarity scores are
        headline metrics; every space is scored in the details either way.
    analysis_model : str
        Model whose errors and examples the report analyses: a model of ``train.models``, ``random``, or
        ``best`` (the best validation P@1, :mod:`pipeline.evaluation.model_choice`). The paper's analysis
        (its Figures 2-3) is ``iesg`` with ``analysis_score: dot``.
    analysis_score : {"dot", "cos"}
        Score used for the error analysis, the examples and the frequency breakdown of every model's P@1.
    sparsity_max_count : int
        A top-1 error is ``sparsity`` when the true word occurs fewer times than this in the corpus.
    synonym_max_hops : int
        ``synonym`` when one word's noun synset is a hypernym of the other's within this many
        hypernym links (0: only a shared synset).
    synonym_min_path_similarity : float
        ... or when WordNet path similarity of some pair of their noun synsets reaches this
        (1 / (1 + shortest path length); 1/3 is two links, e.g. sister terms).
    n_examples : int
        Test images and test words shown with their top results.
    top_examples : int
        Results shown per example.
    thumbnail_px : int
        Longest side of the report's JPEG thumbnails.
    analogy_restrict_vocab : int
        The analogy benchmark ranks among this many most frequent words.
    wordnet_dir : str or None
        WordNet 3.0 dict directory; None finds it as map_images does (nltk data, cache, system).
    """

    candidates: int = 100
    seed: int = 0
    ks: list[int] = field(default_factory=lambda: [1, 5, 10])
    image_pool: Literal["heldout", "test", "all"] = "heldout"
    bootstrap_resamples: int = 1000
    reference_model: str = "l2"
    headline_score: Literal["dot", "cos"] = "cos"
    headline_spaces: list[str] = field(default_factory=lambda: ["pretrained", "joint"])
    frequency_edges: list[int] = field(default_factory=lambda: [100, 1000, 10000])
    analysis_model: str = "best"
    analysis_score: Literal["dot", "cos"] = "cos"
    sparsity_max_count: int = 100
    synonym_max_hops: int = 3
    synonym_min_path_similarity: float = 0.33
    n_examples: int = 8
    top_examples: int = 5
    thumbnail_px: int = 96
    analogy_restrict_vocab: int = 30000
    wordnet_dir: str | None = None

    def validate(self) -> None:
        if self.candidates < 2:
            raise ValueError(f"candidates must be >= 2, got {self.candidates}")
        if not self.ks or any(k < 1 or k > self.candidates for k in self.ks):
            raise ValueError(f"ks must be non-empty, each in [1, candidates], got {self.ks}")
        edges = self.frequency_edges
        if not edges or any(e < 1 for e in edges) or sorted(set(edges)) != edges:
            raise ValueError(f"frequency_edges must be strictly increasing positive counts, got {edges}")
        for name in ("sparsity_max_count", "synonym_max_hops", "bootstrap_resamples"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if not 0 < self.synonym_min_path_similarity <= 1:
            raise ValueError("synonym_min_path_similarity must be in (0, 1]")
        for name in ("n_examples", "top_examples", "thumbnail_px", "analogy_restrict_vocab"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
