"""Image feature extraction: images.csv -> one HDF5 file of pooled CNN vectors.

Each DataLoader worker process decodes, preprocesses and runs a frozen encoder
(:mod:`pipeline.features.encoders`) on whole batches under ``torch.inference_mode`` (one torch thread per
worker by default: small single-threaded batches are the fastest way through a CNN on a CPU;
``bench/featurize.py`` measures it), and each batch's features are appended to a resizable HDF5
dataset as soon as they come, so memory stays bounded by a few batches
whatever the number of images. An image that cannot be decoded is skipped and reported; the
file holds only decoded images, with ``image_ids`` aligned row by row with ``features``.

On a CUDA device (``features.device``) the workers only decode and preprocess; this process runs
the encoder on the device batch by batch (optionally under autocast), and the features are
stored float32 all the same.
"""

from __future__ import annotations

import contextlib
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
    device : str
        Where the encoder ran (``features.device`` resolved).
    """

    images: int
    dim: int
    seconds: float
    device: str
    skipped: list[dict[str, str]] = field(default_factory=list)


AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(spec: str) -> torch.device:
    """The torch device of ``features.device``: ``auto`` is the first CUDA device when there is one, else the CPU.

    Raises
    ------
    PipelineError
        A CUDA device asked for on a machine without CUDA, or an index past the last GPU.
    """
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(spec)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise PipelineError(
                f"features.device {spec}: CUDA is not available here (torch {torch.__version__}, "
                f"built for CUDA {torch.version.cuda or 'none'}); use device: cpu or auto"
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise PipelineError(
                f"features.device {spec}: this machine has {torch.cuda.device_count()} CUDA device(s), "
                f"numbered from 0; use one of them or auto"
            )
    return device


class _DecodedBatches(Dataset):
    """Item ``b``: batch ``b`` of ``paths`` decoded and preprocessed where it is asked for.

    Returns ``(indices, pixels, failed)``: positions of the decoded images, their stacked input
    tensor (len(indices), 3, crop, crop), or None when none decoded, and ``(position, error)`` of
    the images that did not decode.
    """

    def __init__(self, encoder: Encoder, paths: Sequence[str], batch_size: int) -> None:
        self.encoder = encoder
        self.paths = list(paths)
        self.batch_size = batch_size
        self.transform = encoder.preprocessing.transform()

    def __len__(self) -> int:
        return -(-len(self.paths) // self.batch_size)

    def __getitem__(self, batch: int) -> tuple[list[int], torch.Tensor | None, list[tuple[int, str]]]:
        good: list[tuple[int, torch.Tensor]] = []
        failed: list[tuple[int, str]] = []
        for index in range(batch * self.batch_size, min((batch + 1) * self.batch_size, len(self.paths))):
            try:
                good.append((index, self.transform(load_rgb(self.paths[index]))))
            except Exception as exc:  # any undecodable file is reported, never fatal
                failed.append((index, f"{type(exc).__name__}: {exc}"))
        pixels = torch.stack([pixels for _, pixels in good]) if good else None
        return [index for index, _ in good], pixels, failed


class _EncodedBatches(_DecodedBatches):
    """Item ``b``: batch ``b`` decoded, preprocessed and encoded where it is asked for (on the CPU).

    Returns ``(indices, features, failed)`` with float32 features (len(indices), dim). Run in
    DataLoader workers, each worker does the whole job of its batches with its own threads, so
    the workers keep every core busy with no hand-over of pixels between processes.
    """

    def __init__(self, encoder: Encoder, paths: Sequence[str], batch_size: int, tta: str) -> None:
        super().__init__(encoder, paths, batch_size)
        self.tta = tta

    def __getitem__(self, batch: int) -> tuple[list[int], np.ndarray, list[tuple[int, str]]]:
        indices, pixels, failed = super().__getitem__(batch)
        if pixels is None:
            return [], np.empty((0, self.encoder.dim), np.float32), failed
        with torch.inference_mode():
            features = self.encoder.augmented_features(pixels, self.tta)
        return indices, features.numpy().astype(np.float32, copy=False), failed


def _as_is(item):
    return item


class _WorkerThreads:
    """DataLoader ``worker_init_fn``: give each worker process its share of the torch threads."""

    def __init__(self, threads: int) -> None:
        self.threads = threads

    def __call__(self, _: int) -> None:
        torch.set_num_threads(self.threads)


def encode_batches(
    encoder: Encoder,
    paths: Sequence[str],
    batch_size: int,
    num_workers: int,
    threads: int = 0,
    device: torch.device = torch.device("cpu"),
    autocast: str = "none",
    tta: str = "none",
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
    device : torch.device
        Where the encoder runs. Off the CPU, the workers only decode and this process encodes on
        ``device`` (the encoder must already be there, :meth:`Encoder.to`).
    autocast : {"none", "bf16", "fp16"}
        Mixed precision of the forward pass on a CUDA device; the features come back float32.
    tta : {"none", "flip"}
        Test-time augmentation (:meth:`Encoder.augmented_features`): flip averages each image's
        features with those of its mirror image.

    Yields
    ------
    indices : list of int
        Positions in ``paths`` of the decoded images of this batch.
    features : numpy.ndarray
        Float32 (len(indices), encoder.dim).
    failed : list of (int, str)
        Positions and error messages of the images of this batch that did not decode.
    """
    if device.type != "cpu":
        yield from _encode_on_device(encoder, paths, batch_size, num_workers, device, autocast, tta)
        return
    threads = threads or len(os.sched_getaffinity(0))  # (without workers, the caller's setting holds)
    loader = DataLoader(
        _EncodedBatches(encoder, paths, batch_size, tta),
        batch_size=None,
        num_workers=num_workers,
        collate_fn=_as_is,
        worker_init_fn=_WorkerThreads(max(1, threads // num_workers)) if num_workers else None,
        # a batch's features are small (batch x dim floats): let each worker run well ahead, so that
        # one slow batch (a large photo) does not leave the other workers idle
        prefetch_factor=8 if num_workers else None,
    )
    yield from loader


def _encode_on_device(
    encoder: Encoder, paths: Sequence[str], batch_size: int, num_workers: int, device: torch.device, autocast: str,
    tta: str,
) -> Iterator[tuple[list[int], np.ndarray, list[tuple[int, str]]]]:
    loader = DataLoader(
        _DecodedBatches(encoder, paths, batch_size),
        batch_size=None,
        num_workers=num_workers,
        collate_fn=_as_is,
        worker_init_fn=_WorkerThreads(1) if num_workers else None,  # decoding needs no torch threads
        pin_memory=True,
        prefetch_factor=4 if num_workers else None,
    )
    precision = (
        torch.autocast(device.type, dtype=AUTOCAST_DTYPES[autocast])
        if autocast in AUTOCAST_DTYPES else contextlib.nullcontext()
    )
    for indices, pixels, failed in loader:
        if pixels is None:
            yield [], np.empty((0, encoder.dim), np.float32), failed
            continue
        with torch.inference_mode(), precision:
            features = encoder.augmented_features(pixels.to(device, non_blocking=True), tta)
        yield indices, features.float().cpu().numpy(), failed


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
        ``weights``, ``preprocessing`` (JSON string) and ``dim``, and ``tta`` unless it is ``none``.
    params : FeaturesParams
        Encoder, weights (or their local file), batch size, workers, threads, device, autocast, tta and seed.
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
    device = resolve_device(params.device)
    torch.set_num_threads(params.threads or len(os.sched_getaffinity(0)))
    encoder = load_encoder(params.encoder, params.weights, params.seed, params.weights_path).to(device)
    ids, paths = table["image_id"].tolist(), table["path"].tolist()
    skipped: list[dict[str, str]] = []
    start = time.perf_counter()
    with atomic_path(output) as tmp, h5py.File(tmp, "w") as h5:
        write_attributes(h5, encoder.name, encoder.weights, encoder.preprocessing.to_json(), encoder.dim,
                         params.tta)
        writer = FeatureWriter(h5, encoder.dim, chunk_rows=params.batch_size)
        files = [str(Path(base_dir) / p) for p in paths]
        batches = encode_batches(encoder, files, params.batch_size, params.num_workers, params.threads,
                                 device, params.autocast, params.tta)
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
        images=writer.rows, dim=encoder.dim, seconds=time.perf_counter() - start, device=str(device),
        skipped=skipped,
    )
