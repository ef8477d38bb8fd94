"""Tests of featurize under torchrun (pipeline.features.sharded): same file as one process, two nodes, resume."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml
from PIL import Image

from pipeline.core.errors import PipelineError
from pipeline.core.params import checked
from pipeline.features.featurize import featurize
from pipeline.features.params import FeaturesParams
from pipeline.features.sharded import shard_dir, shard_finished, shard_path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))
from common import kill_process_tree  # noqa: E402

STAGE = REPO / "stages" / "featurize.py"
PARAMS = {"encoder": "resnet18", "weights": "none", "batch_size": 1, "num_workers": 0, "threads": 2,
          "seed": 1, "shard_size": 2}


def _images(folder: Path, count: int, params: dict = PARAMS) -> Path:
    """``count`` small noise images plus one undecodable file; return the images table."""
    (folder / "img").mkdir(parents=True)
    rows = []
    for n in range(count):
        pixels = np.random.default_rng(n).integers(0, 256, (24 + n, 32, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / "img" / f"{n}.png")
        rows.append(f"im{n},img/{n}.png,n0,test,train")
    (folder / "img" / "broken.png").write_bytes(b"\x89PNG broken")
    rows.insert(3, "broken,img/broken.png,n0,test,train")
    (folder / "images.csv").write_text("image_id,path,wnid,source,split\n" + "\n".join(rows) + "\n")
    (folder / "params.yaml").write_text(yaml.safe_dump({"features": params}))
    return folder / "images.csv"


def _read(path: Path) -> tuple[list[str], np.ndarray, dict]:
    with h5py.File(path) as h5:
        return ([i.decode() for i in h5["image_ids"][:]], h5["features"][:], dict(h5.attrs))


def _one_process(folder: Path, images: Path, params: dict = PARAMS) -> tuple[list[str], np.ndarray, dict]:
    featurize(images, folder / "single.h5", FeaturesParams(**params), base_dir=folder)
    return _read(folder / "single.h5")


def _torchrun(folder: Path, *launch: str, **popen) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", *launch, str(STAGE), "--images", "images.csv"],
        cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=os.environ, **popen,
    )


def _finish(run: subprocess.Popen) -> str:
    out, err = run.communicate(timeout=300)
    assert run.returncode == 0, err
    return out + err


def _assert_same(folder: Path, expected: tuple[list[str], np.ndarray, dict]) -> None:
    ids, features, attrs = _read(folder / "data" / "features" / "features.h5")
    assert ids == expected[0]
    np.testing.assert_allclose(features, expected[1], atol=1e-5)
    assert attrs == expected[2]
    assert not shard_dir(folder / "data" / "features" / "features.h5").exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_processes_write_the_file_of_one_process(tmp_path: Path) -> None:
    images = _images(tmp_path, 7)
    expected = _one_process(tmp_path, images)

    output = _finish(_torchrun(tmp_path, "--standalone", "--nproc_per_node", "2"))

    _assert_same(tmp_path, expected)
    assert "featurize: 7 images encoded, 1 skipped" in output
    assert "broken" in (tmp_path / "data" / "features" / "report.json").read_text()


def test_flip_tta_under_two_processes_writes_the_file_of_one_process(tmp_path: Path) -> None:
    flip = {**PARAMS, "tta": "flip"}
    images = _images(tmp_path, 5, flip)
    expected = _one_process(tmp_path, images, flip)
    assert expected[2]["tta"] == "flip"
    assert not np.allclose(expected[1], _one_process(tmp_path, images)[1], atol=1e-3)  # flip changes the features

    _finish(_torchrun(tmp_path, "--standalone", "--nproc_per_node", "2"))

    _assert_same(tmp_path, expected)


def test_two_nodes_write_the_file_of_one_process(tmp_path: Path) -> None:
    images = _images(tmp_path, 5)
    expected = _one_process(tmp_path, images)
    rendezvous = ["--nnodes", "2", "--nproc_per_node", "1", "--rdzv_backend", "c10d",
                  "--rdzv_endpoint", f"127.0.0.1:{_free_port()}", "--rdzv_id", "featurize-test"]

    nodes = [_torchrun(tmp_path, *rendezvous, "--node_rank", str(rank)) for rank in (0, 1)]

    for node in nodes:
        _finish(node)
    _assert_same(tmp_path, expected)


def test_killed_run_resumes_at_its_unfinished_shards(tmp_path: Path) -> None:
    images = _images(tmp_path, 16)
    expected = _one_process(tmp_path, images)
    output = tmp_path / "data" / "features" / "features.h5"
    shards = shard_dir(output)
    # Row 2 opens shard 1, rank 1's first: as a named pipe with no writer it blocks rank 1 in open(), so the
    # kill comes while rank 0 has finished exactly its shards 0, 2, 4, 6, 8 (waiting at the barrier) and
    # rank 1 none, however fast the encoder is (a race on the first finished shard made this test flaky).
    blocker = tmp_path / "img" / "2.png"
    pixels = blocker.read_bytes()
    blocker.unlink()
    os.mkfifo(blocker)

    run = _torchrun(tmp_path, "--standalone", "--nproc_per_node", "2")
    rank_zero_shards = [shard_path(shards, k) for k in (0, 2, 4, 6, 8)]
    deadline = time.monotonic() + 120
    while not all(shard_finished(shard) for shard in rank_zero_shards):
        assert run.poll() is None and time.monotonic() < deadline, "rank 0 did not finish its shards"
        time.sleep(0.05)
    assert kill_process_tree(run), "torchrun had no workers to kill"

    assert [k for k in range(9) if shard_finished(shard_path(shards, k))] == [0, 2, 4, 6, 8]
    assert not output.exists()
    blocker.unlink()
    blocker.write_bytes(pixels)
    (tmp_path / "img" / "0.png").write_bytes(b"not an image")  # in finished shard 0: must not be read again
    resumed = _finish(_torchrun(tmp_path, "--standalone", "--nproc_per_node", "2"))
    assert "resuming, 5 of 9 shards already finished" in resumed, resumed
    _assert_same(tmp_path, expected)


def test_a_shard_without_a_matching_checksum_is_unfinished(tmp_path: Path) -> None:
    shard = shard_path(tmp_path, 0)
    shard.write_bytes(b"rows")
    assert not shard_finished(shard)
    sidecar = shard.with_name(shard.name + ".sha256")
    sidecar.write_text("0" * 64 + "\n")
    assert not shard_finished(shard)
    sidecar.write_text(hashlib.sha256(b"rows").hexdigest() + "\n")
    assert shard_finished(shard)


@pytest.mark.parametrize("key", ["procs", "shard_size"])
def test_procs_and_shard_size_must_be_positive(key: str) -> None:
    with pytest.raises(PipelineError, match=f"params features.{key}: must be >= 1, got 0$"):
        checked(FeaturesParams(**{key: 0}), "features")
