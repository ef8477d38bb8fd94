"""bench/compare_runs.py and bench/zero_shot.py on the tiny run, through their command lines."""

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[2]


def bench(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "bench" / argv[0]), *argv[1:]], capture_output=True,
                          text=True, cwd=REPO, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})


def test_a_run_compared_with_itself_differs_by_zero(tiny_run):
    result = bench("compare_runs.py", str(tiny_run), str(tiny_run), "--models", "contrastive,l2")
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if " -> " in line]
    assert len(lines) == 4 and all(line.endswith("B - A +0.0 [+0.0, +0.0]") for line in lines), result.stdout


def test_runs_on_other_images_are_refused(tiny_run, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(tiny_run, other, symlinks=True)
    links_csv = other / "data" / "mapping" / "links.csv"
    links, images = pd.read_csv(links_csv), pd.read_csv(other / "data" / "mapping" / "images.csv")
    test_link = links.index[links["image_id"].isin(images.loc[images["split"] == "test", "image_id"])][0]
    links_csv.unlink()  # a new file, whatever the copy was
    links.drop(index=test_link).to_csv(links_csv, index=False)  # one test link fewer
    result = bench("compare_runs.py", str(tiny_run), str(other), "--models", "l2")
    assert result.returncode != 0 and "compare runs that share map_images' outputs" in result.stderr


def test_zero_shot_needs_an_unseen_split(tiny_run):
    result = bench("zero_shot.py", str(tiny_run), "--models", "contrastive")
    assert result.returncode != 0
    assert result.stderr.strip().endswith("run it with map_images.split.mode: unseen"), result.stderr
