"""featurize under torchrun against the default one-process layout, and the cost of a resume, side by side.

    python bench/torchrun.py --images-dir /path/to/tiny-imagenet-16k --n 800 [--procs 2] [--rounds 2]

Runs the featurize stage script (``stages/featurize.py``, as ``dvc repro`` does) on the same ``--n`` images of
an ImageNet-layout folder (``<wnid>/.../*.JPEG``, every ``n``-th file in sorted order), each run in its own
process tree, in turn:

* ``one process``: the default params (``features.procs: 1``: DataLoader workers that decode and encode);
* ``torchrun``: ``features.procs: --procs`` (the stage relaunches itself under ``torch.distributed.run``),
  shards of ``n / 8`` images; its merged file is compared with the one-process file (same ids and order,
  values within 1e-5);
* ``resume``: the same torchrun run killed (launcher and workers, SIGKILL) once half of its shards are
  finished, then run again: the time of that second run.

Targets (issue 20): torchrun >= 0.9x the one-process rate; a resume after a kill at 50% <= 0.6x a full run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, kill_process_tree  # noqa: E402

STAGE = REPO / "stages" / "featurize.py"
SHARDS = 8


def _setup(folder: Path, files: list[Path], procs: int) -> None:
    folder.mkdir(parents=True)
    rows = [f"im{k:06d},{path},{path.parent.parent.name if path.parent.name == 'images' else path.parent.name},"
            f"bench,train" for k, path in enumerate(files)]
    (folder / "images.csv").write_text("image_id,path,wnid,source,split\n" + "\n".join(rows) + "\n")
    params = yaml.safe_load((REPO / "params.yaml").read_text())["features"]
    params.update(procs=procs, shard_size=max(1, -(-len(files) // SHARDS)))
    (folder / "params.yaml").write_text(yaml.safe_dump({"features": params}))


def _start(folder: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(STAGE), "--images", "images.csv"], cwd=folder,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})


def _timed(folder: Path) -> float:
    start = time.perf_counter()
    run = _start(folder)
    _, err = run.communicate()
    if run.returncode:
        sys.exit(f"error: featurize in {folder} failed:\n{err[-2000:]}")
    return time.perf_counter() - start


def _kill_at_half(folder: Path) -> None:
    shards = folder / "data" / "features" / "features.shards"
    run = _start(folder)
    while len(list(shards.glob("*.sha256"))) < SHARDS // 2:
        if run.poll() is not None:
            sys.exit("error: the run ended before half of its shards were finished; raise --n")
        time.sleep(0.05)
    kill_process_tree(run)


def _read(path: Path) -> tuple[list[bytes], np.ndarray]:
    with h5py.File(path) as h5:
        return list(h5["image_ids"][:]), h5["features"][:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images-dir", type=Path, required=True, help="an ImageNet-layout folder of JPEG files")
    parser.add_argument("--n", type=int, default=800)
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1, help="repeat the three runs; the best time of each counts")
    args = parser.parse_args()
    every = sorted(args.images_dir.rglob("*.JPEG"))
    if len(every) < args.n:
        sys.exit(f"error: --images-dir {args.images_dir}: {len(every)} JPEG files, fewer than --n {args.n}")
    files = [path.resolve() for path in every[:: len(every) // args.n][: args.n]]
    best = {"one process": float("inf"), "torchrun": float("inf"), "resume": float("inf")}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            base = Path(tmp) / f"round{round_}"
            for mode, procs in (("one process", 1), ("torchrun", args.procs), ("resume", args.procs)):
                folder = base / mode.replace(" ", "_")
                _setup(folder, files, procs)
                if mode == "resume":
                    _kill_at_half(folder)
                best[mode] = min(best[mode], _timed(folder))
                print(f"round {round_ + 1} {mode}: {best[mode]:.1f} s", flush=True)
            ids, one = _read(base / "one_process" / "data" / "features" / "features.h5")
            for mode in ("torchrun", "resume"):
                other_ids, other = _read(base / mode / "data" / "features" / "features.h5")
                if other_ids != ids or np.abs(other - one).max() > 1e-5:
                    sys.exit(f"error: the {mode} file differs from the one-process file")
    rate = {mode: args.n / seconds for mode, seconds in best.items()}
    print(f"{args.n} images, {args.procs} torchrun processes, {os.cpu_count()} cores; merged files equal the "
          "one-process file (ids, order, values within 1e-5)")
    print(f"one process {rate['one process']:.1f} images/s; torchrun {rate['torchrun']:.1f} images/s = "
          f"{rate['torchrun'] / rate['one process']:.2f}x (target >= 0.9x)")
    print(f"resume after a kill at 50%: {best['resume']:.1f} s = {best['resume'] / best['torchrun']:.2f}x a full "
          "torchrun run (target <= 0.6x)")


if __name__ == "__main__":
    main()
