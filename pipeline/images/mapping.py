"""Labelled images mapped to WordNet noun synsets, linked to vocabulary words, and split.

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
    :func:`label_synset`; the images are copied, byte for byte, into the images directory.

Each image maps to one wnid; a word is linked to the images of every noun synset it is a lemma
of and all their hyponyms (:func:`pipeline.images.wordnet.words_covering`), unless it covers more
synsets than the generality bound allows.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Literal

import numpy as np
from nltk.corpus.reader.wordnet import Synset, WordNetCorpusReader
from tqdm import tqdm

from pipeline.core.debian import DebPackage, extract_deb
from pipeline.core.errors import PipelineError
from pipeline.core.files import atomic_path, download, write_text
from pipeline.images.rcc import RccBundle
from pipeline.images.wordnet import ancestors, is_wnid, synset_of, words_covering

IMAGE_EXTENSIONS = {".jpeg", ".jpg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff", ".ppm"}
SPLITS = ("train", "val", "test")

# Where a packaged image's folder (or GCompris bundle) says what kind of thing it shows, the
# label's senses under these synsets win: "crane" in vehicles/construction is the machine, in
# animals/birds the bird; "bass" in hobbies/music the instrument, in animals/fish the fish.
_ANIMAL = ("animal.n.01",)
_FOOD = ("food.n.01", "food.n.02", "plant_part.n.01")
_PLANT = ("plant.n.02", "plant_part.n.01", "fungus.n.01")
_ARTIFACT = ("artifact.n.01",)
FOLDER_ANCHORS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(
        ("animals", "amphibians", "apes", "aquatic", "bears", "birds", "bovines", "camel", "cats",
         "deer", "dinosaur", "dogs", "equines", "fish", "fishes", "insects", "lizards", "mammals",
         "marsupials", "rodents", "shellfish", "erase", "explore_farm_animals",
         "explore_world_animals"),
        _ANIMAL),
    **dict.fromkeys(("food", "fruit", "nuts", "vegetables", "spices", "dessert"), _FOOD),
    **dict.fromkeys(("plants", "trees", "mushrooms", "flowers"), _PLANT),
    **dict.fromkeys(("music", "brass", "percussion", "string", "wind"), ("musical_instrument.n.01",)),
    **dict.fromkeys(
        ("household", "dishes", "utensils", "electronics", "arttools", "tools", "clothes", "hats",
         "armor", "town", "roadsigns", "houses", "vehicles", "race", "emergency", "construction",
         "flight", "planes", "ship", "auto", "masstransit", "locomotive", "farming", "cycle",
         "sports", "medical", "ammunition", "toys", "others", "renewable", "plastic",
         "seasonal", "christmas", "easter", "halloween", "hanukkah", "newyears", "winter"),
        _ARTIFACT),
    "monuments": ("structure.n.01", "artifact.n.01"),
    "people": ("person.n.01", "body_part.n.01"),
    "military": ("artifact.n.01", "person.n.01"),
    "body_parts": ("body_part.n.01",),
    **dict.fromkeys(("space", "moon", "planets"), ("celestial_body.n.01",)),
    "naturalforces": ("phenomenon.n.01",),
    "chess": ("chess_piece.n.01",),
    "coins": ("coin.n.01",),
    "flags": ("flag.n.01",),
}

_STOPWORDS = frozenset(
    "a an the of and or in on at to for from with by as is are be its it this that these those "
    "his her their some one called made like very big small little old new".split()
)


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
    train: float = 0.875
    val: float = 0.0625
    test: float = 0.0625

    def validate(self) -> None:
        if min(self.train, self.val, self.test) < 0 or self.train <= 0:
            raise ValueError("split ratios must be >= 0 and train > 0")
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
    cache_dir : str
        Downloads and unpacked packages (not a DVC output).
    wordnet_dir : str or None
        A WordNet 3.0 dict directory or NLTK_DATA root; ``None`` finds one (see
        :func:`pipeline.images.wordnet.load_wordnet`).
    wordnet_cache : str
        Where an nltk-readable copy of the system's WordNet is built.
    max_synset_share : float
        Generality bound: a word covering more than this share of the distinct image synsets
        (and more than one) is not linked (``entity`` would cover them all).
    max_synsets_per_word : int or None
        Optional absolute bound on the synsets a word may cover.
    images : ImageSourceParams
    split : SplitParams
    """

    seed: int = 0
    cache_dir: str = "data/downloads"
    wordnet_dir: str | None = None
    wordnet_cache: str = "data/downloads/nltk_data"
    max_synset_share: float = 0.15
    max_synsets_per_word: int | None = None
    images: ImageSourceParams = field(default_factory=ImageSourceParams)
    split: SplitParams = field(default_factory=SplitParams)

    def validate(self) -> None:
        if not 0 < self.max_synset_share <= 1:
            raise ValueError(f"max_synset_share must be in (0, 1], got {self.max_synset_share}")
        if self.max_synsets_per_word is not None and self.max_synsets_per_word < 1:
            raise ValueError("max_synsets_per_word must be >= 1 or null")


@dataclass(frozen=True)
class Found:
    """One image file found in a source, mapped to a wnid or not.

    Parameters
    ----------
    image_id : str
        Stable, unique id: ``<source>/<path inside the source>``.
    source : str
        ``imagenet_dir``, ``tiny_imagenet``, ``tuxpaint`` or ``gcompris``.
    path : str
        Where the file is read from later: in the source directory for ImageNet layouts, in the
        images directory for packaged images.
    wnid : str or None
        The image's synset; ``None`` when it did not map.
    label : str
        The text the wnid came from (a wnid, or a word or phrase of a packaged image).
    reason : str
        Why the image did not map (empty when it did).
    load : callable or None
        Returns the file's bytes, for packaged images that are copied into the images directory.
    """

    image_id: str
    source: str
    path: str
    wnid: str | None
    label: str = ""
    reason: str = ""
    load: Callable[[], bytes] | None = field(default=None, compare=False, repr=False)


@dataclass
class Mapping:
    """The stage's result: kept images with their split, links, unmapped images, counts."""

    images: list[Found]
    splits: dict[str, str]
    links: list[tuple[str, str]]
    unmapped: list[Found]
    too_general: list[str]
    metrics: dict = field(default_factory=dict)


# --------------------------------------------------------------------------- ImageNet layouts


def scan_imagenet_dir(root: str | Path, wn: WordNetCorpusReader, source: str = "imagenet_dir") -> list[Found]:
    """Find the images under ``root`` and their wnids, whatever the ImageNet layout.

    A file's wnid is, in order: its entry in a ``val_annotations.txt`` beside its folder (Tiny
    ImageNet val), the nearest enclosing folder named like a wnid, or a ``<wnid>_`` file-name
    prefix. Files without one, or whose wnid is not a WordNet 3.0 noun synset, are returned
    unmapped with the reason. Only image files (by extension) are considered.

    Raises
    ------
    PipelineError
        If ``root`` is not a directory.
    """
    root = Path(root)
    if not root.is_dir():
        raise PipelineError(f"map_images.images.path {root}: not a directory; point it at the images")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
    annotated: dict[Path, str] = {}
    for annotation_file in sorted(root.rglob("val_annotations.txt")):
        for line in annotation_file.read_text().splitlines():
            parts = line.split("\t")
            if len(parts) >= 2:
                annotated[annotation_file.parent / "images" / parts[0]] = parts[1]
                annotated[annotation_file.parent / parts[0]] = parts[1]
    found, valid = [], {}
    for file in tqdm(files, desc=f"scan {root.name}", unit="img", mininterval=1.0):
        rel = file.relative_to(root)
        wnid = annotated.get(file) or _wnid_from_path(rel)
        image_id, path = f"{source}/{rel.as_posix()}", str(root / rel)
        if wnid is None:
            found.append(Found(image_id, source, path, None, "", "no wnid in its folders, file name or annotations"))
            continue
        if wnid not in valid:
            valid[wnid] = synset_of(wn, wnid) is not None
        if valid[wnid]:
            found.append(Found(image_id, source, path, wnid, wnid))
        else:
            found.append(Found(image_id, source, path, None, wnid, f"{wnid} is not a WordNet 3.0 noun synset"))
    return found


def _wnid_from_path(rel: Path) -> str | None:
    for folder in reversed(rel.parts[:-1]):
        if is_wnid(folder):
            return folder
    match = re.match(r"(n\d{8})(?:[_.\-]|$)", rel.name)
    return match.group(1) if match else None


def fetch_tiny_imagenet(url: str, sha256: str, cache_dir: str | Path) -> Path:
    """Download Tiny ImageNet's zip (checked against ``sha256``) and unpack it once.

    Returns
    -------
    Path
        The unpacked tree ``<cache_dir>/<zip stem>/`` (the zip's own top folder inside it).
    """
    cache_dir = Path(cache_dir)
    archive = download(url, cache_dir / Path(url).name, sha256)
    root = cache_dir / archive.stem
    if not root.is_dir():
        try:
            with zipfile.ZipFile(archive) as zf, atomic_path(root) as staged:
                staged.mkdir()
                for member in tqdm(zf.infolist(), desc=f"unzip {archive.name}", unit="file", mininterval=1.0):
                    zf.extract(member, staged)
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise PipelineError(f"{archive}: not a valid zip ({exc}); delete it and run again") from exc
    return root


# --------------------------------------------------------------------------- labels -> synsets


def label_tokens(text: str) -> list[str]:
    """Split a file stem or a description into lower-case words (camelCase, digits, ``_-`` split)."""
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)
    return [t for t in re.split(r"[^a-z]+", text.lower()) if t]


def _phrases(tokens: list[str]) -> list[str]:
    """All runs of ``tokens`` as WordNet lemma strings, longest first, rightmost first.

    English compounds end with their head noun (``apple_granny_smith``, ``a round tower``), so
    among runs of one length the rightmost is tried first. Runs that start or end with a
    stop word, and single words shorter than 3 letters, are left out.
    """
    runs = []
    for length in range(len(tokens), 0, -1):
        for start in reversed(range(len(tokens) - length + 1)):
            run = tokens[start:start + length]
            if run[0] in _STOPWORDS or run[-1] in _STOPWORDS or (length == 1 and len(run[0]) < 3):
                continue
            runs.append("_".join(run))
    return runs


def label_synset(
    wn: WordNetCorpusReader, name: str, description: str, folders: Iterable[str]
) -> tuple[Synset, str] | str:
    """Choose the noun synset a labelled image shows.

    Parameters
    ----------
    wn : WordNetCorpusReader
    name : str
        The image's file stem, e.g. ``apple_granny_smith`` or ``measuringTape2``.
    description : str
        An English description (Tux Paint's), or ``""``; only its first sentence is used.
    folders : iterable of str
        The image's folders, outermost first; those in :data:`FOLDER_ANCHORS` restrict senses.

    Returns
    -------
    (Synset, str) or str
        The synset and the phrase that matched it, or the reason why none was chosen.

    Notes
    -----
    Candidate phrases, in order: the whole description's first sentence, the whole name, then
    the runs of words of the name and of the description (:func:`_phrases`), stop words
    dropped. When a folder has anchors, they are tried from the innermost folder outwards and
    the first candidate with a sense under them wins (its first such sense: WordNet lists senses
    most frequent first); if no candidate has one, the image does not map. Without anchored
    folders, the first candidate that is a WordNet noun gets its first sense.
    """
    name_tokens = [t for t in label_tokens(name) if t not in _STOPWORDS]
    sentence = re.split(r"[.!?;:\u2014]", description, maxsplit=1)[0]
    description_tokens = [t for t in label_tokens(sentence) if t not in _STOPWORDS]
    candidates = list(dict.fromkeys(
        [p for p in ("_".join(description_tokens), "_".join(name_tokens)) if p]
        + _phrases(name_tokens) + _phrases(description_tokens)
    ))
    senses = [(phrase, wn.synsets(phrase, pos="n")) for phrase in candidates]
    senses = [(phrase, found) for phrase, found in senses if found]
    if not senses:
        return f"no WordNet noun in the label (tried {', '.join(candidates) or 'nothing'})"
    anchored = [folder for folder in folders if folder in FOLDER_ANCHORS]
    for folder in reversed(anchored):
        anchors = {wn.synset(a) for a in FOLDER_ANCHORS[folder]}
        for phrase, found in senses:
            for synset in found:
                if ancestors(synset) & anchors:
                    return synset, phrase
    if anchored:
        return (f"no sense of {', '.join(p for p, _ in senses)} is a kind of what its folders "
                f"{'/'.join(anchored)} hold")
    phrase, found = senses[0]
    return found[0], phrase


# --------------------------------------------------------------------------- packaged sources


def scan_tuxpaint(stamps: str | Path, wn: WordNetCorpusReader, images_dir: str, skip: list[str]) -> list[Found]:
    """Map Tux Paint stamps (``<category>/.../<name>.png`` + ``<name>.txt``) to synsets.

    A stamp's label is its file name, its English description (the first line of ``.txt``)
    and its folders (see :func:`label_synset`). A stamp drawn only as SVG (Pillow cannot decode
    it), a ``*_mirror`` copy of another stamp and a stamp under a ``skip`` prefix are returned
    unmapped with the reason.
    """
    stamps = Path(stamps)
    stems = sorted({p.with_suffix("") for p in stamps.rglob("*") if p.suffix in (".png", ".svg")})
    found = []
    for stem in tqdm(stems, desc="tuxpaint stamps", unit="stamp", mininterval=1.0):
        rel = stem.relative_to(stamps).as_posix()
        png = stem.with_suffix(".png")
        file = png if png.is_file() else stem.with_suffix(".svg")
        image_id = f"tuxpaint/{rel}{file.suffix}"
        path = f"{images_dir}/{image_id}"
        reason = _skip_reason(image_id, skip)
        if not reason and file.suffix == ".svg":
            reason = "only an SVG drawing (Pillow cannot decode SVG)"
        if not reason and stem.name.endswith("_mirror") and stem.with_name(stem.name[:-7]) in stems:
            reason = f"mirrored copy of tuxpaint/{rel[:-7]}"
        if reason:
            found.append(Found(image_id, "tuxpaint", path, None, stem.name, reason))
            continue
        description_file = stem.with_suffix(".txt")
        description = ""
        if description_file.is_file():
            lines = description_file.read_text(errors="replace").splitlines()
            description = lines[0] if lines and "=" not in lines[0] else ""
        folders = rel.split("/")[:-1]
        found.append(_labelled(wn, image_id, "tuxpaint", path, stem.name, description, folders,
                               lambda file=file: file.read_bytes()))
    return found


def scan_gcompris(rcc_dir: str | Path, bundles: list[str], wn: WordNetCorpusReader, images_dir: str,
                  skip: list[str]) -> list[Found]:
    """Map the images of GCompris's ``<bundle>.rcc`` resource bundles to synsets.

    An image's label is its file name (``fish12`` -> fish, ``eiffelTower`` -> eiffel tower) and
    its folders within the activity's ``resource/`` directory, the bundle's name counting as the
    outermost folder (see :func:`label_synset`).
    """
    found = []
    for name in bundles:
        path = Path(rcc_dir) / f"{name}.rcc"
        if not path.is_file():
            raise PipelineError(
                f"map_images.images.gcompris_bundles: {path} not found; "
                f"known bundles: {', '.join(sorted(p.stem for p in Path(rcc_dir).glob('*.rcc')))}"
            )
        bundle = RccBundle(path)
        for entry in bundle.entries:
            suffix = Path(entry.path).suffix.lower()
            if suffix not in IMAGE_EXTENSIONS:
                continue
            inner = entry.path.split("/resource/", 1)[-1]
            image_id = f"gcompris/{name}/{inner}"
            out = f"{images_dir}/{image_id}"
            reason = _skip_reason(image_id, skip)
            if reason:
                found.append(Found(image_id, "gcompris", out, None, Path(inner).stem, reason))
                continue
            folders = [name, *inner.split("/")[:-1]]
            found.append(_labelled(wn, image_id, "gcompris", out, Path(inner).stem, "", folders,
                                   lambda bundle=bundle, entry=entry: bundle.read(entry)))
    return found


def _skip_reason(image_id: str, skip: list[str]) -> str:
    for prefix in skip:
        if image_id.startswith(prefix):
            return f"abstract or unlabelled (map_images.images.skip: {prefix})"
    return ""


def _labelled(wn, image_id, source, path, name, description, folders, load) -> Found:
    chosen = label_synset(wn, name, description, folders)
    if isinstance(chosen, str):
        return Found(image_id, source, path, None, name, chosen)
    synset, phrase = chosen
    return Found(image_id, source, path, f"n{synset.offset():08d}", phrase, "", load)


def collect_images(params: MapImagesParams, wn: WordNetCorpusReader, images_dir: str) -> list[Found]:
    """Find the images of the configured source, sorted by image id."""
    source = params.images
    if source.source == "imagenet_dir":
        found = scan_imagenet_dir(source.path, wn)
    elif source.source == "tiny_imagenet":
        found = scan_imagenet_dir(fetch_tiny_imagenet(source.url, source.sha256, params.cache_dir), wn,
                                  source="tiny_imagenet")
    else:
        tux = extract_deb(source.tuxpaint, params.cache_dir) / "usr/share/tuxpaint/stamps"
        found = scan_tuxpaint(tux, wn, images_dir, source.skip)
        if source.gcompris_bundles:
            rcc = extract_deb(source.gcompris, params.cache_dir) / "usr/share/gcompris-qt/rcc"
            found += scan_gcompris(rcc, source.gcompris_bundles, wn, images_dir, source.skip)
    return sorted(found, key=lambda f: f.image_id)


# --------------------------------------------------------------------------- links and split


def split_images(images: list[Found], split: SplitParams, seed: int) -> dict[str, str]:
    """Assign each image to train/val/test.

    ``random``: the images, in image-id order, are permuted with ``seed``; the first
    ``round(n*val)`` go to val, the next ``round(n*test)`` to test, the rest to train.
    ``unseen``: the synsets, in wnid order, are permuted with ``seed``; whole synsets go to
    val until it holds at least ``round(n*val)`` images, then to test likewise, the rest to
    train, so that val and test synsets have no training images.

    Returns
    -------
    dict
        image_id -> split name.
    """
    rng = np.random.default_rng(seed)
    n = len(images)
    targets = {"val": round(n * split.val), "test": round(n * split.test)}
    if split.mode == "random":
        order = [images[i].image_id for i in rng.permutation(n)]
        n_val, n_test = targets["val"], targets["test"]
        return {image_id: ("val" if i < n_val else "test" if i < n_val + n_test else "train")
                for i, image_id in enumerate(order)}
    by_wnid: dict[str, list[str]] = defaultdict(list)
    for image in images:
        by_wnid[image.wnid].append(image.image_id)
    wnids = sorted(by_wnid)
    assigned, filled = {}, Counter()
    for index in rng.permutation(len(wnids)):
        wnid = wnids[index]
        name = next((s for s in ("val", "test") if filled[s] < targets[s]), "train")
        filled[name] += len(by_wnid[wnid])
        assigned.update(dict.fromkeys(by_wnid[wnid], name))
    return assigned


def build_mapping(params: MapImagesParams, wn: WordNetCorpusReader, vocabulary: set[str],
                  found: list[Found]) -> Mapping:
    """Link vocabulary words to the mapped images and split them.

    Images whose synset no vocabulary word covers within the generality bound are moved to
    the unmapped list with that reason.

    Raises
    ------
    PipelineError
        If no image maps to a synset, or no word of the vocabulary covers any image.
    """
    mapped = [f for f in found if f.wnid]
    unmapped = [f for f in found if not f.wnid]
    if not mapped:
        reasons = Counter(f.reason for f in unmapped).most_common(1)
        detail = f" ({len(found)} found; most common reason: {reasons[0][0]})" if reasons else " (no image files found)"
        raise PipelineError(f"map_images.images ({params.images.source}): no image maps to a WordNet synset{detail}")
    n_synsets = len({f.wnid for f in mapped})
    limit = max(1.0, params.max_synset_share * n_synsets)  # one synset is never too general
    if params.max_synsets_per_word is not None:
        limit = min(limit, params.max_synsets_per_word)
    covering = words_covering(wn, {f.wnid for f in mapped}, vocabulary)
    too_general = sorted(w for w, wnids in covering.items() if len(wnids) > limit)
    words = {w: wnids for w, wnids in covering.items() if len(wnids) <= limit}
    if not words:
        raise PipelineError(
            f"vocabulary: none of its {len(vocabulary):,} words names one of the {n_synsets} image synsets or "
            "their hypernyms within the generality bound; check the vectors file and map_images.max_synset_share"
        )
    images_of: dict[str, list[str]] = defaultdict(list)
    for image in mapped:
        images_of[image.wnid].append(image.image_id)
    linked_wnids = set().union(*words.values())
    kept = [f for f in mapped if f.wnid in linked_wnids]
    unmapped += [Found(f.image_id, f.source, f.path, None, f.label,
                       f"no vocabulary word names its synset {f.wnid} or a hypernym within the generality bound")
                 for f in mapped if f.wnid not in linked_wnids]
    links = sorted((word, image_id) for word, wnids in words.items() for wnid in wnids for image_id in images_of[wnid])
    splits = split_images(kept, params.split, params.seed)
    result = Mapping(kept, splits, links, sorted(unmapped, key=lambda f: f.image_id), too_general)
    result.metrics = _metrics(result, params)
    return result


def _metrics(mapping: Mapping, params: MapImagesParams) -> dict:
    per = {name: {"images": 0, "synsets": set(), "words": set(), "links": 0} for name in ("total", *SPLITS)}
    for image in mapping.images:
        for name in ("total", mapping.splits[image.image_id]):
            per[name]["images"] += 1
            per[name]["synsets"].add(image.wnid)
    for word, image_id in mapping.links:
        for name in ("total", mapping.splits[image_id]):
            per[name]["links"] += 1
            per[name]["words"].add(word)
    metrics = {key: {name: (len(v[key]) if isinstance(v[key], set) else v[key]) for name, v in per.items()}
               for key in ("images", "synsets", "words", "links")}
    metrics.update(
        source=params.images.source,
        split_mode=params.split.mode,
        unmapped=len(mapping.unmapped),
        words_too_general=len(mapping.too_general),
        images_by_source=dict(sorted(Counter(f.source for f in mapping.images).items())),
    )
    return metrics


# --------------------------------------------------------------------------- outputs


def _csv(rows: Iterable[Iterable], header: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def write_outputs(mapping: Mapping, images_dir: str | Path, mapping_dir: str | Path) -> None:
    """Write ``images_dir`` (packaged images' bytes) and ``images.csv``, ``links.csv``,
    ``unmapped.csv`` in ``mapping_dir``, each atomically."""
    with atomic_path(images_dir) as staged:
        staged.mkdir()
        for image in tqdm([f for f in mapping.images if f.load], desc="extract images", unit="img",
                          mininterval=1.0):
            target = staged / image.image_id
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(image.load())
    mapping_dir = Path(mapping_dir)
    write_text(mapping_dir / "images.csv", _csv(
        ((f.image_id, f.path, f.wnid, f.source, mapping.splits[f.image_id], f.label) for f in mapping.images),
        ["image_id", "path", "wnid", "source", "split", "label"]))
    write_text(mapping_dir / "links.csv", _csv(mapping.links, ["word", "image_id"]))
    write_text(mapping_dir / "unmapped.csv", _csv(
        ((f.image_id, f.path, f.source, f.label, f.reason) for f in mapping.unmapped),
        ["image_id", "path", "source", "label", "reason"]))


def read_vocabulary(path: str | Path) -> set[str]:
    """Return the words of a gensim KeyedVectors file.

    Raises
    ------
    PipelineError
        If the file is missing or not a KeyedVectors file.
    """
    from gensim.models import KeyedVectors

    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: pretrained vectors not found; run the pretrain stage first")
    try:
        return set(KeyedVectors.load(str(path)).key_to_index)
    except Exception as exc:  # gensim/pickle raise many types on a wrong file
        raise PipelineError(f"{path}: not a gensim KeyedVectors file ({exc}); rerun the pretrain stage") from exc
