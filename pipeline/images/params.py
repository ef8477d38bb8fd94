"""The ``map_images`` section of params.yaml: the image source, the split and the linking bounds.

Three image sources (``map_images.images.source``):

``imagenet_dir``
    A local directory in any usual ImageNet layout: ``<wnid>/<file>`` folders (ILSVRC train),
    Tiny ImageNet (``train/<wnid>/images/*.JPEG``; ``val/val_annotations.txt`` maps the files of
    ``val/images/`` to wnids), or flat files named ``<wnid>_<anything>.<ext>``.
``tiny_imagenet``
    Tiny ImageNet's zip, downloaded (checksum required) and unpacked into the cache directory,
    then read as ``imagenet_dir``.
``packaged``
    Photos that Debian ships with labels: Tux Paint stamps (labelled by file name, English
    description and category folders) and GCompris activity images (inside Qt ``.rcc``
    bundles, labelled by file name and folders). A label is turned into a noun synset by
    :func:`pipeline.images.labels.label_synset`; the images are copied, byte for byte, into the
    images directory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

from pipeline.core.debian import DebPackage
from pipeline.core.params import AT_LEAST_ONE, NON_NEGATIVE, POSITIVE, Range


@dataclass(frozen=True)
class SplitParams:
    """How images are split into train/val/test.

    Parameters
    ----------
    mode : {"random", "unseen"}
        ``random`` splits images; ``unseen`` splits synsets, so that no synset of the val or
        test images has training images (zero-shot evaluation); its ratios are then met only
        approximately, a synset at a time.
    train, val, test : float
        Shares of the images; they must add up to 1.
    """

    mode: Literal["random", "unseen"] = "random"
    train: Annotated[float, POSITIVE] = 0.875
    val: Annotated[float, NON_NEGATIVE] = 0.0625
    test: Annotated[float, NON_NEGATIVE] = 0.0625

    def validate(self) -> None:
        if abs(self.train + self.val + self.test - 1) > 1e-9:
            raise ValueError(f"split ratios must add up to 1, got {self.train + self.val + self.test}")


@dataclass(frozen=True)
class ImageSourceParams:
    """Where the images come from (see the module docstring).

    Parameters
    ----------
    source : {"packaged", "imagenet_dir", "tiny_imagenet"}
    path : str or None
        The directory read by ``imagenet_dir`` (required for that source).
    url, sha256 : str, str or None
        Tiny ImageNet's zip and its sha256 (required for ``tiny_imagenet``).
    tuxpaint, gcompris : DebPackage
        The pinned packages of the ``packaged`` source.
    gcompris_bundles : list of str
        The GCompris ``.rcc`` bundles (file stems) whose images are labelled photos.
    skip : list of str
        Image-id prefixes left out as abstract or unlabelled (symbols, letters, category icons);
        they are listed in unmapped.csv.
    max_images, max_per_synset : int or None
        Keep a seeded subset of the mapped images (``map_images.seed``; see
        :mod:`pipeline.images.subset`): at most this many in all (spread evenly over the synsets)
        and per synset; ``None`` keeps them all. The images left out are not listed in unmapped.csv.
    """

    source: Literal["packaged", "imagenet_dir", "tiny_imagenet"] = "packaged"
    path: str | None = None
    url: str = "http://cs231n.stanford.edu/tiny-imagenet-200.zip"
    sha256: str | None = None
    tuxpaint: DebPackage = DebPackage(
        "tuxpaint-stamps-default", "2022.06.04-1",
        "6db6c1bfc870a47f1499d6203b083522eacb57c5f9c87d468f2e92eb6d9d5f34")
    gcompris: DebPackage = DebPackage(
        "gcompris-qt-data", "3.1-2", "e9cf06ab2105529068df73085784e835d2ff03f870d2a8091f09125d40abac9f")
    gcompris_bundles: list[str] = field(default_factory=lambda: [
        "categorization", "erase", "explore_farm_animals", "explore_world_animals", "lang"])
    skip: list[str] = field(default_factory=lambda: [
        "tuxpaint/symbols/alphabets/", "tuxpaint/symbols/faces/", "tuxpaint/symbols/math/",
        "tuxpaint/symbols/money/00_symbols/", "tuxpaint/symbols/music/", "tuxpaint/symbols/shapes/",
        "gcompris/categorization/images/alphabets/", "gcompris/categorization/images/numbers/"])
    max_images: Annotated[int, AT_LEAST_ONE] | None = None
    max_per_synset: Annotated[int, AT_LEAST_ONE] | None = None

    def validate(self) -> None:
        if self.source == "imagenet_dir" and not self.path:
            raise ValueError("images.path is required for source imagenet_dir")
        if self.source == "tiny_imagenet" and not self.sha256:
            raise ValueError(
                "images.sha256 is required for source tiny_imagenet: compute it with "
                "'sha256sum tiny-imagenet-200.zip' on a copy you trust"
            )


@dataclass(frozen=True)
class MapImagesParams:
    """The ``map_images`` section of params.yaml.

    Parameters
    ----------
    seed : int
        Seed of the split.
    wordnet_dir : str or None
        A WordNet 3.0 dict directory or NLTK_DATA root; ``None`` finds one (see
        :func:`pipeline.images.wordnet.load_wordnet`).
    max_synset_share : float
        Generality bound: a word covering more than this share of the distinct image synsets
        (and more than one) is not linked (``entity`` would cover them all).
    max_synsets_per_word : int or None
        Optional absolute bound on the synsets a word may cover.
    images : ImageSourceParams
    split : SplitParams
    """

    seed: int = 0
    wordnet_dir: str | None = None
    max_synset_share: Annotated[float, Range(gt=0, le=1)] = 0.15
    max_synsets_per_word: Annotated[int, AT_LEAST_ONE] | None = None
    images: ImageSourceParams = field(default_factory=ImageSourceParams)
    split: SplitParams = field(default_factory=SplitParams)
