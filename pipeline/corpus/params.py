"""The ``corpus`` section of params.yaml and the statistics the fetch_corpus stage writes.

Three sources, chosen by ``corpus.source``:

``enwik8``
    The paper's corpus: the first 10^8 bytes of the March 2006 English Wikipedia dump
    (``enwik8.zip``), cleaned the way Matt Mahoney's ``wikifil.pl`` turns it into ``text8``
    (:mod:`pipeline.corpus.wiki`).
``file``
    Any local plain-text file, cleaned the same way minus the XML/wiki part
    (:mod:`pipeline.corpus.text8`).
``packaged``
    Real English prose shipped in pinned Debian packages (default, works offline): the
    definitions and quotations of Webster's 1913 dictionary (GCIDE), WordNet 3.0 glosses, the
    FOLDOC and Jargon File dictionaries and the ``fortunes`` quotations
    (:mod:`pipeline.corpus.packages`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

from pipeline.core.debian import DebPackage
from pipeline.core.params import Range

ENWIK8_URL = "http://mattmahoney.net/dc/enwik8.zip"
ENWIK8_ZIP_SHA256 = "547994d9980ebed1288380d652999f38a14fe291a6247c157c3d33d4932534bc"
ENWIK8_SHA256 = "2b49720ec4d78c3c9fabaee6e4179a5e997302b3a70029f30f2d582218c024a8"


@dataclass(frozen=True)
class PackagedText:
    """A pinned Debian package holding English prose, and the reader that extracts it.

    Parameters
    ----------
    name, version, sha256 : str
        The package pin (see :class:`pipeline.core.debian.DebPackage`).
    reader : {"dictd", "wordnet", "fortunes", "sword"}
        ``dictd``: every ``usr/share/dictd/*.index`` database (definitions and quotations, no
        headword lines or markup); ``wordnet``: the glosses of ``usr/share/wordnet/data.*``;
        ``fortunes``: the quotations in ``usr/share/games/fortunes``; ``sword``: the text of
        every zlib-compressed SWORD Bible module under ``usr/share/sword/modules/texts/ztext``.
    """

    name: str
    version: str
    sha256: str
    reader: Literal["dictd", "wordnet", "fortunes", "sword"]

    def validate(self) -> None:
        self.package().validate()

    def package(self) -> DebPackage:
        return DebPackage(self.name, self.version, self.sha256)


DEFAULT_PACKAGES = (
    PackagedText("dict-gcide", "0.48.5+nmu2",
                 "7b0af5cfde3cbdef5e9d6e78f92ec335ced7c2790f37a40f49bebc6f7347ac0f", "dictd"),
    PackagedText("wordnet-base", "1:3.0-37",
                 "61060d960f9ada8fa120872312eccd3ecebfbab8c4579e4f5a74e1cf67620752", "wordnet"),
    PackagedText("dict-foldoc", "20230119-1",
                 "745cbedb55c2da609cc88ee0284e9d11a67a11ae3709daf7bad0e895ac3294c3", "dictd"),
    PackagedText("dict-jargon", "4.4.7-3.1",
                 "405f8168d7994ed2cb71407bb95493daec2e9aa66fc0461dafa74a9d6728a8c1", "dictd"),
    PackagedText("fortunes", "1:1.99.1-7.3",
                 "41d0551dc0ff52f875a2ecef7c39da2f672ab468c37e170119f7e0245a9d63c5", "fortunes"),
    PackagedText("sword-text-web", "426.0-1",
                 "930b23670b352f0829a306501de4bebb5e654a2df02cde2cbe86b802177868e1", "sword"),
    PackagedText("sword-text-kjv", "14.3-1",
                 "9f463f28ce665f6f528fc723179722bced880a4c5485f7a41bf742838315de57", "sword"),
)


@dataclass(frozen=True)
class CorpusParams:
    """The ``corpus`` section of ``params.yaml``.

    Parameters
    ----------
    source : {"packaged", "enwik8", "file"}
        Where the text comes from (see the module docstring).
    path : str or None
        ``enwik8``: a local ``enwik8.zip`` or unzipped ``enwik8`` used instead of downloading;
        ``file``: the plain-text file (required). Ignored by ``packaged``.
    url : str
        Where ``enwik8.zip`` is downloaded from when ``path`` is not set.
    zip_sha256, text_sha256 : str or None
        Expected sha256 of ``enwik8.zip`` and of the unzipped ``enwik8``; ``None`` skips the check.
    packages : list of PackagedText
        The Debian packages read by the ``packaged`` source, in this order.
    words_per_line : int
        Maximum words per output line (gensim's ``corpus_file`` reads at most 10,000).
    """

    source: Literal["packaged", "enwik8", "file"] = "packaged"
    path: str | None = None
    url: str = ENWIK8_URL
    zip_sha256: str | None = ENWIK8_ZIP_SHA256
    text_sha256: str | None = ENWIK8_SHA256
    packages: list[PackagedText] = field(default_factory=lambda: list(DEFAULT_PACKAGES))
    words_per_line: Annotated[int, Range(ge=1, le=10_000, why="gensim's line limit")] = 1000

    def validate(self) -> None:
        if self.source == "file" and not self.path:
            raise ValueError("source 'file' needs path: the plain-text file to read")
        if self.source == "packaged" and not self.packages:
            raise ValueError("source 'packaged' needs at least one entry in packages")


@dataclass(frozen=True)
class CorpusStats:
    """What :func:`build_corpus` wrote: the content of ``results/corpus.json``."""

    source: str
    bytes: int
    tokens: int
    vocabulary: int
    sha256: str
