"""Words linked to the images of the synsets they name, the images split, and the stage's outputs.

Each image maps to one wnid (:mod:`pipeline.images.sources`); a word is linked to the images of
every noun synset it is a lemma of and all their hyponyms
(:func:`pipeline.images.wordnet.words_covering`), unless it covers more synsets than the
generality bound allows.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from nltk.corpus.reader.wordnet import WordNetCorpusReader
from tqdm import tqdm

from pipeline.artifacts.tables import IMAGE_COLUMNS, LINK_COLUMNS, UNMAPPED_COLUMNS, write_table
from pipeline.core.errors import PipelineError
from pipeline.core.files import atomic_path
from pipeline.images.params import MapImagesParams, SplitParams
from pipeline.images.sources import Found
from pipeline.images.subset import subset_images
from pipeline.images.wordnet import words_covering

SPLITS = ("train", "val", "test")


@dataclass
class Mapping:
    """The stage's result: kept images with their split, links, unmapped images, counts."""

    images: list[Found]
    splits: dict[str, str]
    links: list[tuple[str, str]]
    unmapped: list[Found]
    too_general: list[str]
    metrics: dict = field(default_factory=dict)


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

    With ``images.max_images`` or ``images.max_per_synset`` set, only the seeded subset of the mapped
    images (:func:`pipeline.images.subset.subset_images`) is considered, and its counts are in the
    metrics under ``subset``. Images whose synset no vocabulary word covers within the generality bound are moved to
    the unmapped list with that reason.

    Raises
    ------
    PipelineError
        If no image maps to a synset, or no word of the vocabulary covers any image.
    """
    subset = None
    if params.images.max_images is not None or params.images.max_per_synset is not None:
        found, subset = subset_images(found, params.images.max_images, params.images.max_per_synset, params.seed)
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
    if subset is not None:  # absent by default, so that the default run's statistics stay as they were
        result.metrics["subset"] = subset
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


def write_outputs(mapping: Mapping, images_dir: str | Path, images_csv: str | Path, links_csv: str | Path,
                  unmapped_csv: str | Path) -> None:
    """Write ``images_dir`` (packaged images' bytes) and the three tables, each atomically."""
    with atomic_path(images_dir) as staged:
        staged.mkdir()
        for image in tqdm([f for f in mapping.images if f.load], desc="extract images", unit="img",
                          mininterval=1.0):
            target = staged / image.image_id
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(image.load())
    write_table(images_csv, ((f.image_id, f.path, f.wnid, f.source, mapping.splits[f.image_id], f.label)
                             for f in mapping.images), IMAGE_COLUMNS)
    write_table(links_csv, mapping.links, LINK_COLUMNS)
    write_table(unmapped_csv, ((f.image_id, f.path, f.source, f.label, f.reason) for f in mapping.unmapped),
                UNMAPPED_COLUMNS)
