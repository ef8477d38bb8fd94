"""Image feature extraction: images.csv -> one HDF5 file of pooled CNN vectors.

Each DataLoader worker process decodes, preprocesses and runs a frozen encoder
(:mod:`pipeline.features.encoders`) on whole batches under ``torch.inference_mode`` (one torch thread per
worker by default: small single-threaded batches are the fastest way through a CNN on a CPU;
``bench/featurize.py`` measures it), and each batch's features are appended to a resizable HDF5
dataset as soon as they come, so memory stays bounded by a few batches
whatever the number of images. An image that cannot be decoded is skipped and reported; the
file holds only decoded images, with ``image_ids`` aligned row by row with ``features``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import h5py
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from pipeline.artifacts.features import FeatureWriter, write_attributes
from pipeline.artifacts.tables import read_images
from pipeline.core.errors import PipelineError
from pipeline.core.files import atomic_path
from pipeline.features.decode import load_rgb
from pipeline.features.encoders import Encoder, load_encoder
from pipeline.features.params import FeaturesParams


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


class _EncodedBatches(Dataset):
    """Item ``b``: batch ``b`` of ``paths`` decoded, preprocessed and encoded where it is asked for.

    Returns ``(indices, features, failed)``: positions of the decoded images, their float32
    features (len(indices), dim) and ``(position, error)`` of the images that did not decode. Run
    in DataLoader workers, each worker does the whole job of its batches with its own threads, so
    the workers keep every core busy with no hand-over of pixels between processes.
    """

    def __init__(self, encoder: Encoder, paths: Sequence[str], batch_size: int) -> None:
        self.encoder = encoder
        self.paths = list(paths)
        self.batch_size = batch_size
        self.transform = encoder.preprocessing.transform()

    def __len__(self) -> int:
        return -(-len(self.paths) // self.batch_size)

    def __getitem__(self, batch: int) -> tuple[list[int], np.ndarray, list[tuple[int, str]]]:
        good: list[tuple[int, torch.Tensor]] = []
        failed: list[tuple[int, str]] = []
        for index in range(batch * self.batch_size, min((batch + 1) * self.batch_size, len(self.paths))):
            try:
                good.append((index, self.transform(load_rgb(self.paths[index]))))
            except Exception as exc:  # any undecodable file is reported, never fatal
                failed.append((index, f"{type(exc).__name__}: {exc}"))
        if not good:
            return [], np.empty((0, self.encoder.dim), np.float32), failed
        with torch.inference_mode():
            features = self.encoder.features(torch.stack([pixels for _, pixels in good]))
        return [index for index, _ in good], features.numpy().astype(np.float32, copy=False), failed


def _as_is(item):
    return item


class _WorkerThreads:
    """DataLoader ``worker_init_fn``: give each worker process its share of the torch threads."""

    def __init__(self, threads: int) -> None:
        self.threads = threads

    def __call__(self, _: int) -> None:
        torch.set_num_threads(self.threads)


def encode_batches(
    encoder: Encoder, paths: Sequence[str], batch_size: int, num_workers: int, threads: int = 0,
) -> Iterator[tuple[list[int], np.ndarray, list[tuple[int, str]]]]:
    """Yield the features of ``paths`` batch by batch, in order.

    With ``num_workers`` > 0, each DataLoader worker process decodes *and* encodes whole batches
    (the model is shared with the workers by fork, copy-on-write) with ``threads / num_workers``
    torch threads; this process only collects the features. On a CPU this beats one process
    running the network on several threads while workers decode: a batch of a few images per
    single-threaded process stays in the core's cache and needs no thread synchronisation.

    Parameters
    ----------
    encoder : Encoder
        The network and its preprocessing.
    paths : sequence of str
        Image files.
    batch_size : int
        Images per forward pass.
    num_workers : int
        Worker processes decoding and encoding batches (0: everything in this process).
    threads : int
        Torch threads in all (0: one per available core), split among the workers; without
        workers, this process's current torch setting is used.

    Yields
    ------
    indices : list of int
        Positions in ``paths`` of the decoded images of this batch.
    features : numpy.ndarray
        Float32 (len(indices), encoder.dim).
    failed : list of (int, str)
        Positions and error messages of the images of this batch that did not decode.
    """
    threads = threads or len(os.sched_getaffinity(0))  # (without workers, the caller's setting holds)
    loader = DataLoader(
        _EncodedBatches(encoder, paths, batch_size),
        batch_size=None,
        num_workers=num_workers,
        collate_fn=_as_is,
        worker_init_fn=_WorkerThreads(max(1, threads // num_workers)) if num_workers else None,
        # a batch's features are small (batch x dim floats): let each worker run well ahead, so that
        # one slow batch (a large photo) does not leave the other workers idle
        prefetch_factor=8 if num_workers else None,
    )
    yield from loader


def read_image_list(path: str | os.PathLike) -> pd.DataFrame:
    """The images table (:func:`pipeline.artifacts.tables.read_images`), refused when it lists no image."""
    table = read_images(path, ("image_id", "path"))
    if table.empty:
        raise PipelineError(f"{path}: no images listed; check the map_images params and sources")
    return table


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
    table = read_image_list(images_csv)
    torch.set_num_threads(params.threads or len(os.sched_getaffinity(0)))
    encoder = load_encoder(params.encoder, params.weights, params.seed)
    ids, paths = table["image_id"].tolist(), table["path"].tolist()
    skipped: list[dict[str, str]] = []
    start = time.perf_counter()
    with atomic_path(output) as tmp, h5py.File(tmp, "w") as h5:
        write_attributes(h5, encoder.name, encoder.weights, encoder.preprocessing.to_json(), encoder.dim)
        writer = FeatureWriter(h5, encoder.dim, chunk_rows=params.batch_size)
        files = [str(Path(base_dir) / p) for p in paths]
        batches = encode_batches(encoder, files, params.batch_size, params.num_workers, params.threads)
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
