"""WordNet 3.0 through nltk: loading, ImageNet wnids, and the images a word covers.

WordNet is read with nltk's ``WordNetCorpusReader``. The corpus comes from, in order: the
``wordnet_dir`` param, nltk's own ``wordnet`` corpus (``nltk.download("wordnet")``), a copy
already built in the cache directory, or the system's WordNet files (Debian packages
``wordnet-base`` + ``wordnet-sense-index``, installed in ``/usr/share/wordnet``). nltk cannot read
the Debian files in place (it needs a ``lexnames`` file they lack), so they are copied once into
``<cache>/corpora/wordnet/`` together with a generated ``lexnames``.

An ImageNet wnid is ``n`` followed by the 8-digit offset of a noun synset in WordNet 3.0's
``data.noun``, e.g. ``n02084071`` is ``dog.n.01``.
"""

from __future__ import annotations

import shutil
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Iterable

from nltk.corpus.reader.wordnet import Synset, WordNetCorpusReader

from pipeline.core.errors import PipelineError
from pipeline.core.files import atomic_path

SYSTEM_WORDNET = Path("/usr/share/wordnet")

# The 45 lexicographer files of WordNet 3.0, in the numbering of lexnames(5WN); the last
# column is the syntactic category (1 noun, 2 verb, 3 adjective, 4 adverb).
LEXNAMES = (
    ("adj.all", 3), ("adj.pert", 3), ("adv.all", 4), ("noun.Tops", 1), ("noun.act", 1),
    ("noun.animal", 1), ("noun.artifact", 1), ("noun.attribute", 1), ("noun.body", 1),
    ("noun.cognition", 1), ("noun.communication", 1), ("noun.event", 1), ("noun.feeling", 1),
    ("noun.food", 1), ("noun.group", 1), ("noun.location", 1), ("noun.motive", 1),
    ("noun.object", 1), ("noun.person", 1), ("noun.phenomenon", 1), ("noun.plant", 1),
    ("noun.possession", 1), ("noun.process", 1), ("noun.quantity", 1), ("noun.relation", 1),
    ("noun.shape", 1), ("noun.state", 1), ("noun.substance", 1), ("noun.time", 1),
    ("verb.body", 2), ("verb.change", 2), ("verb.cognition", 2), ("verb.communication", 2),
    ("verb.competition", 2), ("verb.consumption", 2), ("verb.contact", 2), ("verb.creation", 2),
    ("verb.emotion", 2), ("verb.motion", 2), ("verb.perception", 2), ("verb.possession", 2),
    ("verb.social", 2), ("verb.stative", 2), ("verb.weather", 2), ("adj.ppl", 3),
)

INSTALL_HINT = (
    "install it with 'apt-get install wordnet-base wordnet-sense-index' (or "
    "'python -m nltk.downloader wordnet'), or set map_images.wordnet_dir to a WordNet 3.0 dict directory"
)


def lexnames_text() -> str:
    """Return the content of WordNet 3.0's ``lexnames`` file (``NN<TAB>name<TAB>category``)."""
    return "".join(f"{i:02d}\t{name}\t{category}\n" for i, (name, category) in enumerate(LEXNAMES))


def build_nltk_copy(source: Path, cache_dir: str | Path) -> Path:
    """Copy WordNet's dict files from ``source`` into ``cache_dir/corpora/wordnet`` for nltk.

    Parameters
    ----------
    source : Path
        A directory with WordNet 3.0's ``data.noun``, ``index.noun``, ... files.
    cache_dir : str or Path
        An NLTK_DATA-style root; the copy is written atomically to ``corpora/wordnet/`` under it,
        with a generated ``lexnames`` unless ``source`` has one. An existing copy is reused.

    Returns
    -------
    Path
        The corpus directory, ready for :class:`WordNetCorpusReader`.
    """
    target = Path(cache_dir) / "corpora" / "wordnet"
    if (target / "lexnames").is_file():
        return target
    with atomic_path(target) as staged:
        staged.mkdir()
        for item in sorted(source.iterdir()):
            if item.is_file():
                shutil.copyfile(item, staged / item.name)
        if not (staged / "lexnames").is_file():
            (staged / "lexnames").write_text(lexnames_text())
    return target


def load_wordnet(wordnet_dir: str | Path | None, cache_dir: str | Path) -> WordNetCorpusReader:
    """Open WordNet 3.0 with nltk.

    Parameters
    ----------
    wordnet_dir : str, Path or None
        A WordNet dict directory (with ``data.noun``), or an NLTK_DATA root holding
        ``corpora/wordnet``. ``None`` searches nltk's data path, then ``cache_dir``, then the
        system's ``/usr/share/wordnet``.
    cache_dir : str or Path
        Where an nltk-readable copy of a dict directory without ``lexnames`` is built.

    Returns
    -------
    WordNetCorpusReader

    Raises
    ------
    PipelineError
        If no WordNet is found or the one found is not version 3.0 (wnids are 3.0 offsets).
    """
    if wordnet_dir is not None:
        given = Path(wordnet_dir)
        root = given / "corpora" / "wordnet" if (given / "corpora" / "wordnet").is_dir() else given
        if not (root / "data.noun").is_file():
            raise PipelineError(f"map_images.wordnet_dir {given}: no WordNet data.noun there; {INSTALL_HINT}")
        if not (root / "lexnames").is_file():
            root = build_nltk_copy(root, cache_dir)
        return _open(root)
    reader = _nltk_wordnet()
    if reader is not None:
        return _checked(reader, "nltk's wordnet corpus")
    cached = Path(cache_dir) / "corpora" / "wordnet"
    if (cached / "lexnames").is_file():
        return _open(cached)
    if (SYSTEM_WORDNET / "data.noun").is_file():
        return _open(build_nltk_copy(SYSTEM_WORDNET, cache_dir))
    raise PipelineError(f"WordNet 3.0 not found; {INSTALL_HINT}")


def _nltk_wordnet() -> WordNetCorpusReader | None:
    import nltk

    try:
        nltk.data.find("corpora/wordnet")
    except LookupError:
        try:
            nltk.data.find("corpora/wordnet.zip")
        except LookupError:
            return None
    from nltk.corpus import wordnet

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wordnet.ensure_loaded()
    return wordnet


def _open(root: Path) -> WordNetCorpusReader:
    import nltk

    # nltk >= 3.9 opens corpus files only below a directory on its data path (symlinks are
    # resolved first, which is why the system files are copied rather than linked).
    allowed = str(root.resolve())
    if allowed not in nltk.data.path:
        nltk.data.path.append(allowed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reader = _WordNet30(str(root), None)
    return _checked(reader, str(root))


class _WordNet30(WordNetCorpusReader):
    """A WordNet 3.0 dict directory read outside nltk's ``wordnet`` corpus.

    nltk maps any wordnet that is not its own ``wordnet`` corpus onto that corpus's synsets
    (for the multilingual data), which needs the corpus installed. A 3.0 copy is the same
    database, so there is nothing to map.
    """

    def map_wn(self, version: str = "wordnet") -> None:
        return None


def _checked(reader: WordNetCorpusReader, where: str) -> WordNetCorpusReader:
    version = reader.get_version()
    if version != "3.0":
        raise PipelineError(f"{where}: WordNet {version}, but ImageNet wnids need WordNet 3.0; {INSTALL_HINT}")
    return reader


def wnid_of(synset: Synset) -> str:
    """Return the ImageNet wnid (``n`` + 8-digit offset) of a noun synset."""
    if synset.pos() != "n":
        raise ValueError(f"{synset.name()} is not a noun synset")
    return f"n{synset.offset():08d}"


def synset_of(wn: WordNetCorpusReader, wnid: str) -> Synset | None:
    """Return the noun synset with ImageNet id ``wnid``, or ``None`` if WordNet 3.0 has none."""
    if not is_wnid(wnid):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return wn.synset_from_pos_and_offset("n", int(wnid[1:]))
    except Exception:  # nltk raises WordNetError, or ValueError/IndexError on a mid-line offset
        return None


def is_wnid(text: str) -> bool:
    """Whether ``text`` has the form of a wnid (``n`` and 8 digits); existence is not checked."""
    return len(text) == 9 and text[0] == "n" and text[1:].isdigit()


def hyponym_closure(synset: Synset) -> set[Synset]:
    """Return ``synset`` and every synset below it through hyponym *and* instance-hyponym links.

    Instances count: a photo of the Eiffel Tower (an instance of ``tower.n.01``) is a photo of
    a tower, so the word *tower* covers it.
    """
    return {synset, *synset.closure(lambda s: s.hyponyms() + s.instance_hyponyms())}


def ancestors(synset: Synset) -> set[Synset]:
    """Return ``synset`` and every synset above it (hypernyms and instance hypernyms).

    ``x in ancestors(y)`` exactly when ``y in hyponym_closure(x)``.
    """
    return {synset, *synset.closure(lambda s: s.hypernyms() + s.instance_hypernyms())}


def words_covering(
    wn: WordNetCorpusReader, wnids: Iterable[str], vocabulary: set[str] | None = None
) -> dict[str, set[str]]:
    """Map each single-token noun lemma to the image wnids it covers.

    A word covers the wnids of every noun synset it is a lemma of and of all their hyponyms
    (:func:`hyponym_closure`). Computed bottom-up from the image synsets' ancestors, which visits
    only the part of WordNet above the images.

    Parameters
    ----------
    wn : WordNetCorpusReader
    wnids : iterable of str
        The wnids that have images (each must be a WordNet 3.0 noun synset).
    vocabulary : set of str, optional
        Keep only these words.

    Returns
    -------
    dict
        word -> set of wnids. Words are lemma names lower-cased; lemmas that are not a single
        run of ``a-z`` (``ice_cream``, ``t-shirt``, ``3-D``) are left out, since the corpus is
        text8-style and has no such token.
    """
    covered: dict[str, set[str]] = defaultdict(set)
    for wnid in sorted(set(wnids)):
        synset = synset_of(wn, wnid)
        if synset is None:
            raise ValueError(f"{wnid} is not a WordNet 3.0 noun synset")
        for above in ancestors(synset):
            for lemma in above.lemma_names():
                word = lemma.lower()
                if word.isascii() and word.isalpha() and (vocabulary is None or word in vocabulary):
                    covered[word].add(wnid)
    return dict(covered)
