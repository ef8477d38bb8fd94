"""Finding the images of the configured source and the wnid each shows: ImageNet layouts on disk,
Tiny ImageNet's zip, and the labelled photos of the Tux Paint and GCompris packages (see
:mod:`pipeline.images.params` for the sources, :mod:`pipeline.images.labels` for how a label
becomes a synset).
"""

from __future__ import annotations

import os
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from nltk.corpus.reader.wordnet import WordNetCorpusReader
from tqdm import tqdm

from pipeline.core.debian import extract_deb
from pipeline.core.errors import PipelineError
from pipeline.core.files import atomic_path, download
from pipeline.images.labels import label_synset
from pipeline.images.params import MapImagesParams
from pipeline.images.rcc import RccBundle
from pipeline.images.wordnet import is_wnid, synset_of

IMAGE_EXTENSIONS = {".jpeg", ".jpg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff", ".ppm"}


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
    files, annotation_files = _list_tree(root)
    annotated: dict[str, str] = {}
    for annotation_file in sorted(annotation_files):
        folder = annotation_file.rpartition("/")[0]
        for line in (root / annotation_file).read_text().splitlines():
            parts = line.split("\t")
            if len(parts) >= 2:
                for rel in (f"{folder}/images/{parts[0]}", f"{folder}/{parts[0]}"):
                    annotated[rel.lstrip("/")] = parts[1]
    prefix = "" if str(root) == "." else f"{root}/"  # as str(root / rel), without a Path per file
    found, valid = [], {}
    for rel in tqdm(sorted(files), desc=f"scan {root.name}", unit="img", mininterval=1.0):
        wnid = annotated.get(rel) or _wnid_from_path(rel)
        image_id, path = f"{source}/{rel}", f"{prefix}{rel}"
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


def _list_tree(root: Path) -> tuple[list[str], list[str]]:
    """The image files and ``val_annotations.txt`` files under ``root``, as ``/``-joined paths relative to it.

    One ``os.scandir`` pass (a file's type comes with its directory entry, so a 1.28M-file ILSVRC
    tree is listed without a stat per file); symlinked folders are not entered, as ``Path.rglob``.
    """
    images, annotations = [], []
    folders = [""]
    while folders:
        folder = folders.pop()
        with os.scandir(root / folder) as entries:
            for entry in entries:
                rel = f"{folder}/{entry.name}" if folder else entry.name
                if entry.is_dir(follow_symlinks=False):
                    folders.append(rel)
                elif os.path.splitext(entry.name)[1].lower() in IMAGE_EXTENSIONS and entry.is_file():
                    images.append(rel)
                elif entry.name == "val_annotations.txt" and entry.is_file():
                    annotations.append(rel)
    return images, annotations


def _wnid_from_path(rel: str) -> str | None:
    *folders, name = rel.split("/")
    for folder in reversed(folders):
        if is_wnid(folder):
            return folder
    match = re.match(r"(n\d{8})(?:[_.\-]|$)", name)
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


def collect_images(params: MapImagesParams, wn: WordNetCorpusReader, images_dir: str,
                   downloads: str | Path) -> list[Found]:
    """Find the images of the configured source (downloads kept in ``downloads``), sorted by image id."""
    source = params.images
    if source.source == "imagenet_dir":
        found = scan_imagenet_dir(source.path, wn)
    elif source.source == "tiny_imagenet":
        found = scan_imagenet_dir(fetch_tiny_imagenet(source.url, source.sha256, downloads), wn,
                                  source="tiny_imagenet")
    else:
        tux = extract_deb(source.tuxpaint, downloads) / "usr/share/tuxpaint/stamps"
        found = scan_tuxpaint(tux, wn, images_dir, source.skip)
        if source.gcompris_bundles:
            rcc = extract_deb(source.gcompris, downloads) / "usr/share/gcompris-qt/rcc"
            found += scan_gcompris(rcc, source.gcompris_bundles, wn, images_dir, source.skip)
    return sorted(found, key=lambda f: f.image_id)
