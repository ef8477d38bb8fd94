"""What the API's queries return: plain frozen dataclasses (``dataclasses.asdict`` gives their JSON).

Every result names the model that produced it (``model``), why that model (``chosen``: ``named``, or
``best validation P@1 0.569`` for the default), the ``score`` (``dot`` or ``cos``) and, for the two
image/word rankings, the ``retrieval`` (``plain``: rank by the score itself).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ImageHit:
    """One ranked image: ``path`` as images.csv has it (relative to the run's root); ``linked``: linked in
    links.csv to (one of) the query's words."""

    rank: int
    image_id: str
    split: str
    score: float
    linked: bool
    path: str


@dataclass(frozen=True)
class ImagesForWord:
    """The top images of a word or phrase (``words``: its words; a phrase is the mean of their vectors) among
    the ``candidates`` images of ``split``; ``linked_images``: how many of those are linked to its words."""

    word: str
    words: list[str]
    model: str
    chosen: str
    score: str
    retrieval: str
    split: str
    candidates: int
    linked_images: int
    top: list[ImageHit]


@dataclass(frozen=True)
class ImageQuery:
    """The image a query asked about: a mapped image (``image_id`` of images.csv, its split and linked words),
    or an image file featurized on the fly (``image_id``, ``split`` None, no linked words)."""

    image_id: str | None
    path: str
    split: str | None
    linked_words: list[str]


@dataclass(frozen=True)
class WordHit:
    """One ranked mapped word; ``linked``: linked to the query image in links.csv."""

    rank: int
    word: str
    score: float
    linked: bool


@dataclass(frozen=True)
class WordsForImage:
    """The top mapped words of an image among the ``candidates`` mapped words."""

    query: ImageQuery
    model: str
    chosen: str
    score: str
    retrieval: str
    candidates: int
    top: list[WordHit]


@dataclass(frozen=True)
class Neighbour:
    """A nearest word and its cosine to the query."""

    rank: int
    word: str
    cosine: float


@dataclass(frozen=True)
class Neighbours:
    """The nearest words (cosine) of a word or phrase by the pretrained vectors and by those ``model`` learnt;
    ``cosine_pretrained_grounded``: how far grounding moved the query's vector."""

    word: str
    words: list[str]
    model: str
    chosen: str
    linked_images: int
    cosine_pretrained_grounded: float
    pretrained: list[Neighbour]
    grounded: list[Neighbour]
