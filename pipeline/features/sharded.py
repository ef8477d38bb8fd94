"""Featurize across processes (``torchrun``): images cut into fixed-size shards, merged by rank 0.

Shard ``k`` holds rows ``k * shard_size`` to ``(k + 1) * shard_size`` of the images table; rank ``r`` of
``world`` encodes the unfinished shards ``k`` with ``k % world == r``. Each shard is written atomically
beside the output (``<output stem>.shards/shard-<k>.h5``) with a sha256 sidecar written after it; a shard
counts as finished only when both exist and the checksum matches, so a killed run resumes where it
stopped. After a barrier, rank 0 merges the shards in order into the output (atomically): the same ids,
order and attributes as a one-process run.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

import h5py
import numpy as np
import torch
import torch.distributed as dist
from tqdm import tqdm

from pipeline.artifacts.features import FeatureWriter, write_attributes
from pipeline.core.errors import PipelineError
from pipeline.core.files import atomic_path, sha256_file, write_text
from pipeline.features.encoders import Encoder, load_encoder
from pipeline.features.featurize import FeaturizeResult, encode_batches, read_image_list
from pipeline.features.params import FeaturesParams

# Ranks wait at the barrier while the others encode their shards: allow a paper-scale run.
BARRIER_TIMEOUT = timedelta(hours=12)


def shard_dir(output: str | os.PathLike) -> Path:
    """Where the shards of ``output`` are kept until the merge."""
    output = Path(output)
    return output.parent / f"{output.stem}.shards"


def shard_path(shards: Path, shard: int) -> Path:
    return shards / f"shard-{shard:05d}.h5"


def _checksum_path(shard_file: Path) -> Path:
    return shard_file.with_name(shard_file.name + ".sha256")


def shard_finished(shard_file: Path) -> bool:
    """Whether ``shard_file`` was written completely: its sha256 sidecar exists and matches."""
    checksum = _checksum_path(shard_file)
    if not (shard_file.is_file() and checksum.is_file()):
        return False
    return checksum.read_text().strip() == sha256_file(shard_file)


def _encode_shard(
    encoder: Encoder, ids: list[str], files: list[str], paths: list[str], target: Path,
    params: FeaturesParams, threads: int, workers: int, bar: tqdm,
) -> None:
    skipped: list[dict[str, str]] = []
    with atomic_path(target) as tmp, h5py.File(tmp, "w") as h5:
        writer = FeatureWriter(h5, encoder.dim, chunk_rows=params.batch_size)
        for indices, features, failed in encode_batches(
            encoder, files, params.batch_size, workers, threads, tta=params.tta
        ):
            writer.append([ids[i] for i in indices], features)
            skipped += [{"image_id": ids[i], "path": paths[i], "error": e} for i, e in failed]
            bar.update(len(indices) + len(failed))
        h5.attrs["skipped"] = json.dumps(skipped)
    write_text(_checksum_path(target), sha256_file(target) + "\n")


def _merge(shards: Path, count: int, output: str | os.PathLike, encoder: Encoder, params: FeaturesParams,
           images_csv: str | os.PathLike, total: int) -> tuple[int, list[dict[str, str]]]:
    skipped: list[dict[str, str]] = []
    with atomic_path(output) as tmp, h5py.File(tmp, "w") as h5:
        write_attributes(h5, encoder.name, encoder.weights, encoder.preprocessing.to_json(), encoder.dim,
                         params.tta)
        writer = FeatureWriter(h5, encoder.dim, chunk_rows=params.batch_size)
        for shard in range(count):
            source = shard_path(shards, shard)
            if not shard_finished(source):
                raise PipelineError(f"{source}: shard missing or its checksum does not match; rerun featurize")
            with h5py.File(source, "r") as part:
                ids = [i.decode() if isinstance(i, bytes) else str(i) for i in part["image_ids"][:]]
                writer.append(ids, np.asarray(part["features"][:], dtype=np.float32))
                skipped += json.loads(part.attrs["skipped"])
        if writer.rows == 0:
            raise PipelineError(
                f"{images_csv}: none of its {total} images could be decoded "
                f"(first error: {skipped[0]['path']}: {skipped[0]['error']}); check the image paths"
            )
    return writer.rows, skipped


def featurize_sharded(
    images_csv: str | os.PathLike,
    output: str | os.PathLike,
    params: FeaturesParams,
    base_dir: str | os.PathLike = ".",
) -> FeaturizeResult | None:
    """This process's part of a ``torchrun`` featurize (rank and world size from its environment).

    Returns the result on rank 0, once the merged ``output`` is written, and None on the other ranks.
    Finished shards of an earlier, interrupted run with the same table are reused.
    """
    dist.init_process_group("gloo", timeout=BARRIER_TIMEOUT)
    try:
        rank, world = dist.get_rank(), dist.get_world_size()
        table = read_image_list(images_csv)
        # The machine's threads and DataLoader workers are split among the ranks of a node, so that N ranks
        # encode with as many threads in all as one process does (more would oversubscribe the cores).
        threads = max(1, (params.threads or len(os.sched_getaffinity(0))) // world)
        workers = max(1, params.num_workers // world) if params.num_workers else 0
        torch.set_num_threads(threads)
        encoder = load_encoder(params.encoder, params.weights, params.seed, params.weights_path)
        ids, paths = table["image_id"].tolist(), table["path"].tolist()
        files = [str(Path(base_dir) / p) for p in paths]
        shards = shard_dir(output)
        shards.mkdir(parents=True, exist_ok=True)
        count = -(-len(paths) // params.shard_size)
        if rank == 0:
            done = sum(shard_finished(shard_path(shards, k)) for k in range(count))
            if done:
                print(f"featurize: resuming, {done} of {count} shards already finished in {shards}",
                      file=sys.stderr)
        mine = [k for k in range(rank, count, world) if not shard_finished(shard_path(shards, k))]
        start = time.perf_counter()
        rows = sum(min(params.shard_size, len(paths) - k * params.shard_size) for k in mine)
        with tqdm(total=rows, unit="img", desc=f"featurize {encoder.name} rank {rank}/{world}",
                  disable=rank != 0) as bar:
            for k in mine:
                part = slice(k * params.shard_size, (k + 1) * params.shard_size)
                _encode_shard(encoder, ids[part], files[part], paths[part], shard_path(shards, k),
                              params, threads, workers, bar)
        dist.barrier()
        if rank != 0:
            return None
        images, skipped = _merge(shards, count, output, encoder, params, images_csv, len(paths))
        for k in range(count):
            shard_path(shards, k).unlink()
            _checksum_path(shard_path(shards, k)).unlink()
        shards.rmdir()
        return FeaturizeResult(images=images, dim=encoder.dim, seconds=time.perf_counter() - start,
                               skipped=skipped, device="cpu")
    finally:
        dist.destroy_process_group()
