"""The ``evaluate`` section of params.yaml."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

from pipeline.core.params import AT_LEAST_ONE, NON_NEGATIVE, Range
from pipeline.models.registry import BASELINE_MODEL, GROUNDED_SPACE_MODEL

from pipeline.core.errors import PipelineError


Retrieval = Literal["plain", "csls", "inverted_softmax"]


@dataclass(frozen=True)
class DefaultRetrieval:
    """The default retrieval of each direction (:mod:`pipeline.evaluation.retrieval`): a correction can help
    one direction and cost the other."""

    word_to_image: Retrieval = "inverted_softmax"
    image_to_word: Retrieval = "plain"


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
    retrieval : DefaultRetrieval
        The default retrieval of full rankings per direction, each ``plain``, ``csls`` or
        ``inverted_softmax``: the word -> image one gives the headline R@1 and hub share, and both are
        the defaults of a caller that ranks by :func:`pipeline.evaluation.retrieval.corrected_scores`. The
        matching table's P@k stays plain (the paper's protocol); the retrieval section has every retrieval.
    retrieval_k : int
        CSLS neighbourhood: an item's hubness is its mean score with its ``retrieval_k`` best queries.
    retrieval_temperature : float
        Inverted-softmax temperature (on the score scale; cosine scores lie in [-1, 1]).
    k_occurrence : int
        The k of the k-occurrence N_k whose skewness measures hubness.
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

    candidates: Annotated[int, Range(ge=2)] = 100
    seed: int = 0
    ks: list[int] = field(default_factory=lambda: [1, 5, 10])
    image_pool: Literal["heldout", "test", "all"] = "heldout"
    bootstrap_resamples: Annotated[int, NON_NEGATIVE] = 1000
    reference_model: str = BASELINE_MODEL
    headline_score: Literal["dot", "cos"] = "cos"
    headline_spaces: list[str] = field(default_factory=lambda: ["pretrained", GROUNDED_SPACE_MODEL])
    frequency_edges: list[int] = field(default_factory=lambda: [100, 1000, 10000])
    retrieval: DefaultRetrieval = field(default_factory=DefaultRetrieval)
    retrieval_k: Annotated[int, AT_LEAST_ONE] = 10
    retrieval_temperature: Annotated[float, Range(gt=0)] = 0.1
    k_occurrence: Annotated[int, AT_LEAST_ONE] = 10
    analysis_model: str = "best"
    analysis_score: Literal["dot", "cos"] = "cos"
    sparsity_max_count: Annotated[int, NON_NEGATIVE] = 100
    synonym_max_hops: Annotated[int, NON_NEGATIVE] = 3
    synonym_min_path_similarity: Annotated[float, Range(gt=0, le=1)] = 0.33
    n_examples: Annotated[int, AT_LEAST_ONE] = 8
    top_examples: Annotated[int, AT_LEAST_ONE] = 5
    thumbnail_px: Annotated[int, AT_LEAST_ONE] = 96
    analogy_restrict_vocab: Annotated[int, AT_LEAST_ONE] = 30000
    wordnet_dir: str | None = None

    def validate(self) -> None:
        if not self.ks or any(k < 1 or k > self.candidates for k in self.ks):
            raise ValueError(f"ks must be non-empty, each in [1, candidates], got {self.ks}")
        edges = self.frequency_edges
        if not edges or any(e < 1 for e in edges) or sorted(set(edges)) != edges:
            raise ValueError(f"frequency_edges must be strictly increasing positive counts, got {edges}")

    def check_models(self, names: list[str]) -> None:
        """Refuse an analysis or reference model, or a headline space, that ``train.models`` (``names``) lacks."""
        for role, name, others in (("analysis_model", self.analysis_model, ("random", "best")),
                                   ("reference_model", self.reference_model, ("random",))):
            if name not in (*names, *others):
                raise PipelineError(f"params evaluate.{role}: {name!r} is not in train.models ({', '.join(names)}) "
                                    f"nor {' nor '.join(repr(o) for o in others)}")
        unknown_spaces = [space for space in self.headline_spaces if space not in ("pretrained", *names)]
        if unknown_spaces:
            raise PipelineError(f"params evaluate.headline_spaces: {', '.join(unknown_spaces)} not 'pretrained' nor "
                                f"in train.models ({', '.join(names)})")
