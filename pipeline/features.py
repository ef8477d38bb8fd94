"""Image feature extraction: images.csv -> one HDF5 file of pooled CNN vectors.

Images are decoded and preprocessed in DataLoader worker processes, run through a frozen encoder
(:mod:`pipeline.encoders`) in batches under ``torch.inference_mode``, and each batch is appended
to a resizable HDF5 dataset as soon as it is computed, so memory stays bounded by a few batches
whatever the number of images. An image that cannot be decoded is skipped and reported; the
file holds only decoded images, with ``image_ids`` aligned row by row with ``features``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

import h5py
import numpy as np
import pandas as pd
import torch
from PIL import Image, ImageOps
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from pipeline.encoders import Encoder, EncoderName, WeightsName, load_encoder
from pipeline.errors import PipelineError
from pipeline.io import atomic_path


@dataclass(frozen=True)
class FeaturesParams:
    """The ``features`` section of params.yaml (see the README for what each key means)."""

    encoder: EncoderName = "efficientnet_lite0"
    weights: WeightsName = "imagenet"
    batch_size: int = 32
    num_workers: int = 2
    threads: int = 0
    seed: int = 0

    def validate(self) -> None:
        """Raise ValueError for out-of-range values."""
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.num_workers < 0:
            raise ValueError(f"num_workers must be >= 0, got {self.num_workers}")
        if self.threads < 0:
            raise ValueError(f"threads must be >= 0 (0: one per available core), got {self.threads}")


@dataclass
class FeaturizeResult:
    """What :func:`featurize` did.

    Attributes
    ----------
    images : int
        Rows written (images decoded and encoded).
    skipped : list of dict
        One ``{"image_id", "path", "error"}`` per image that could not be decoded.
    dim : int
        Feature vector length.
    seconds : float
        Wall time of decoding plus inference.
    """

    images: int
    dim: int
    seconds: float
    skipped: list[dict[str, str]] = field(default_factory=list)


def load_rgb(path: str | os.PathLike) -> Image.Image:
    """Decode an image file into an RGB PIL image.

    EXIF orientation is applied; transparency (RGBA, LA, palette or greyscale with a transparent
    colour) is composited on white; greyscale, 16-bit greyscale, CMYK, YCbCr etc. become RGB.

    Raises
    ------
    Exception
        Whatever Pillow raises for a missing, truncated or unreadable file.
    """
    with Image.open(path) as image:
        image.load()
        image = ImageOps.exif_transpose(image)
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        image = Image.fromarray((np.asarray(image, dtype=np.float32) / 257).clip(0, 255).astype(np.uint8))
    has_alpha = image.mode in ("RGBA", "LA", "RGBa", "La", "PA") or "transparency" in image.info
    if has_alpha:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


class _ImageFiles(Dataset):
    """Item ``i``: ``(i, tensor, "")`` for a decodable image, ``(i, None, error)`` otherwise."""

    def __init__(self, paths: Sequence[str], transform: Callable[[Image.Image], torch.Tensor]):
        self.paths = list(paths)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[int, torch.Tensor | None, str]:
        try:
            return index, self.transform(load_rgb(self.paths[index])), ""
        except Exception as exc:  # any undecodable file is reported, never fatal
            return index, None, f"{type(exc).__name__}: {exc}"


def _collate(items: list) -> tuple[list[int], torch.Tensor | None, list[tuple[int, str]]]:
    good = [(index, pixels) for index, pixels, _ in items if pixels is not None]
    failed = [(index, error) for index, pixels, error in items if pixels is None]
    pixels = torch.stack([p for _, p in good]) if good else None
    return [index for index, _ in good], pixels, failed


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)


def encode_batches(
    encoder: Encoder, paths: Sequence[str], batch_size: int, num_workers: int
) -> Iterator[tuple[list[int], np.ndarray, list[tuple[int, str]]]]:
    """Yield the features of ``paths`` batch by batch, in order.

    Parameters
    ----------
    encoder : Encoder
        The network and its preprocessing.
    paths : sequence of str
        Image files.
    batch_size : int
        Images per forward pass.
    num_workers : int
        DataLoader worker processes decoding images (0: decode in this process).

    Yields
    ------
    indices : list of int
        Positions in ``paths`` of the decoded images of this batch.
    features : numpy.ndarray
        Float32 (len(indices), encoder.dim).
    failed : list of (int, str)
        Positions and error messages of the images of this batch that did not decode.
    """
    loader = DataLoader(
        _ImageFiles(paths, encoder.preprocessing.transform()),
        batch_size=batch_size,
        num_workers=num_workers,
        collate_fn=_collate,
        worker_init_fn=_worker_init if num_workers else None,
    )
    with torch.inference_mode():
        for indices, pixels, failed in loader:
            if pixels is None:
                yield [], np.empty((0, encoder.dim), np.float32), failed
            else:
                yield indices, encoder.features(pixels).numpy().astype(np.float32, copy=False), failed


class FeatureWriter:
    """Append rows of features and their image ids to an open HDF5 file.

    Creates the resizable, chunked datasets ``features`` (float32, n x dim) and ``image_ids``
    (utf-8 strings); each :meth:`append` grows both by the rows given, so nothing is held in
    memory beyond the batch being written.
    """

    def __init__(self, h5: h5py.File, dim: int, chunk_rows: int) -> None:
        self.features = h5.create_dataset(
            "features", shape=(0, dim), maxshape=(None, dim), dtype="f4", chunks=(chunk_rows, dim)
        )
        self.image_ids = h5.create_dataset(
            "image_ids", shape=(0,), maxshape=(None,), dtype=h5py.string_dtype("utf-8"),
            chunks=(chunk_rows,),
        )
        self.rows = 0

    def append(self, image_ids: Sequence[str], features: np.ndarray) -> None:
        """Write ``features`` (len(image_ids) x dim) after the rows already written."""
        if len(image_ids) != len(features):
            raise ValueError(f"{len(image_ids)} ids for {len(features)} feature rows")
        end = self.rows + len(image_ids)
        self.features.resize(end, axis=0)
        self.image_ids.resize(end, axis=0)
        self.features[self.rows:end] = features
        self.image_ids[self.rows:end] = list(image_ids)
        self.rows = end


def read_images_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read images.csv and return its ``image_id`` and ``path`` columns (as strings).

    Raises
    ------
    PipelineError
        Missing file, missing columns, no rows, or duplicate image ids.
    """
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: images table not found; run the map_images stage first")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise PipelineError(f"{path}: not a readable CSV ({exc}); rerun map_images") from exc
    missing = [c for c in ("image_id", "path") if c not in table.columns]
    if missing:
        raise PipelineError(f"{path}: column(s) {', '.join(missing)} missing; rerun map_images")
    if table.empty:
        raise PipelineError(f"{path}: no images listed; check the map_images params and sources")
    duplicated = table["image_id"][table["image_id"].duplicated()]
    if not duplicated.empty:
        raise PipelineError(
            f"{path}: image_id {duplicated.iloc[0]!r} is listed more than once; ids must be unique"
        )
    return table[["image_id", "path"]]


def featurize(
    images_csv: str | os.PathLike,
    output: str | os.PathLike,
    params: FeaturesParams,
    base_dir: str | os.PathLike = ".",
) -> FeaturizeResult:
    """Encode every image of ``images_csv`` and write ``output`` (HDF5) atomically.

    Parameters
    ----------
    images_csv : path
        Table with columns ``image_id`` and ``path`` (absolute, or relative to ``base_dir``).
    output : path
        HDF5 file to write: dataset ``features`` (float32, n x dim), dataset ``image_ids``
        (utf-8, same order as the table, undecodable images left out), attributes ``encoder``,
        ``weights``, ``preprocessing`` (JSON string) and ``dim``.
    params : FeaturesParams
        Encoder, weights, batch size, workers, threads and seed.
    base_dir : path
        Directory relative image paths start from.

    Returns
    -------
    FeaturizeResult
        Counts, skipped images with their errors, and the time taken.

    Raises
    ------
    PipelineError
        Bad table, unavailable encoder weights, or not a single image decoded.
    """
    table = read_images_table(images_csv)
    torch.set_num_threads(params.threads or len(os.sched_getaffinity(0)))
    encoder = load_encoder(params.encoder, params.weights, params.seed)
    ids, paths = table["image_id"].tolist(), table["path"].tolist()
    skipped: list[dict[str, str]] = []
    start = time.perf_counter()
    with atomic_path(output) as tmp, h5py.File(tmp, "w") as h5:
        h5.attrs["encoder"] = encoder.name
        h5.attrs["weights"] = encoder.weights
        h5.attrs["preprocessing"] = encoder.preprocessing.to_json()
        h5.attrs["dim"] = encoder.dim
        writer = FeatureWriter(h5, encoder.dim, chunk_rows=params.batch_size)
        files = [str(Path(base_dir) / p) for p in paths]
        batches = encode_batches(encoder, files, params.batch_size, params.num_workers)
        with tqdm(total=len(paths), unit="img", desc=f"featurize {encoder.name}") as bar:
            for indices, features, failed in batches:
                writer.append([ids[i] for i in indices], features)
                skipped += [{"image_id": ids[i], "path": paths[i], "error": e} for i, e in failed]
                bar.update(len(indices) + len(failed))
        if writer.rows == 0:
            raise PipelineError(
                f"{images_csv}: none of its {len(paths)} images could be decoded "
                f"(first error: {skipped[0]['path']}: {skipped[0]['error']}); check the image paths"
            )
    return FeaturizeResult(
        images=writer.rows, dim=encoder.dim, seconds=time.perf_counter() - start, skipped=skipped
    )
