"""A seeded subset of the mapped images (``map_images.images.max_images`` and ``max_per_synset``).

Each synset's images are ranked by a hash of (seed, wnid, image id), never by listing order, and a
synset keeps the first images of its ranking: at most ``max_per_synset``, then at most its quota of
``max_images``. Quotas are equal shares; the remainder goes to the synsets first in the order of a
hash of (seed, wnid); a synset with fewer images than its share keeps them all and the rest is shared
again among the others. Adding images to synset A therefore never changes which images of synset B
are kept, unless B's quota changes (A had fewer images than its share, or a synset is added).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict

from pipeline.images.sources import Found


def _rank(seed: int, *parts: str) -> bytes:
    return hashlib.blake2b("\0".join((str(seed), *parts)).encode(), digest_size=8).digest()


def synset_quotas(available: dict[str, int], max_images: int | None, seed: int) -> dict[str, int]:
    """How many images each synset keeps so that they add up to ``max_images`` (all when ``None`` or fewer exist)."""
    if max_images is None or sum(available.values()) <= max_images:
        return dict(available)
    quotas: dict[str, int] = {}
    remaining = sorted(available, key=lambda wnid: _rank(seed, wnid))
    budget = max_images
    while remaining:
        share, extra = divmod(budget, len(remaining))
        wanted = {wnid: share + (i < extra) for i, wnid in enumerate(remaining)}
        short = [wnid for wnid in remaining if available[wnid] <= wanted[wnid]]
        if not short:
            quotas.update(wanted)
            break
        for wnid in short:
            quotas[wnid] = available[wnid]
            budget -= available[wnid]
        remaining = [wnid for wnid in remaining if wnid not in quotas]
    return quotas


def subset_images(found: list[Found], max_images: int | None, max_per_synset: int | None,
                  seed: int) -> tuple[list[Found], dict]:
    """Keep the seeded subset of the mapped images of ``found`` (unmapped ones are all kept, to be reported).

    Returns
    -------
    list of Found
        ``found`` without the images left out, in its order.
    dict
        The subset's counts for the stage's statistics: images and synsets listed and kept.
    """
    by_wnid: dict[str, list[Found]] = defaultdict(list)
    for image in found:
        if image.wnid:
            by_wnid[image.wnid].append(image)
    ranked = {wnid: sorted(images, key=lambda f: _rank(seed, wnid, f.image_id))[:max_per_synset]
              for wnid, images in by_wnid.items()}
    quotas = synset_quotas({wnid: len(images) for wnid, images in ranked.items()}, max_images, seed)
    kept = {f.image_id for wnid, images in ranked.items() for f in images[:quotas[wnid]]}
    counts = {
        "max_images": max_images,
        "max_per_synset": max_per_synset,
        "images_listed": sum(map(len, by_wnid.values())),
        "images_kept": len(kept),
        "synsets_listed": len(by_wnid),
        "synsets_kept": sum(1 for quota in quotas.values() if quota),
    }
    return [f for f in found if not f.wnid or f.image_id in kept], counts
