"""Helpers shared by the bench scripts: child processes with their own peak RSS, machine load,
tables and the optional JSON result file.

Every bench prints ratios measured in one run on one machine (absolute numbers depend on the
machine and on whatever else runs on it, so the load average is printed with them).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # `python bench/x.py` puts bench/, not the checkout, on sys.path
    sys.path.insert(0, str(REPO))


def run_path(root: str | Path, name: str) -> Path:
    """Artifact ``name`` of the pipeline run at ``root`` (the path dvc.yaml gives it)."""
    from pipeline.artifacts.layout import ARTIFACTS

    return ARTIFACTS[name].at(root)


def training_inputs(root: str | Path, text: bool = True):
    """The train stage's inputs from the run at ``root`` (:func:`pipeline.artifacts.training_inputs.load_training_inputs`)."""
    from pipeline.artifacts.training_inputs import load_training_inputs

    return load_training_inputs(*(run_path(root, name) for name in ("corpus", "word2vec_dir", "images", "links",
                                                                    "features")), text=text)


def load_trained(root: str | Path, names: Sequence[str] | None = None):
    """The models ``names`` (default: every model of ``train.models``) trained at ``root``, for scoring
    (:func:`pipeline.evaluation.protocol.load_trained_models`)."""
    from pipeline.evaluation.protocol import load_trained_models
    from pipeline.models.registry import load_train_config

    if names is None:
        names = load_train_config(str(run_path(root, "params"))).models
    return load_trained_models(*(run_path(root, name) for name in ("images", "links", "features", "vectors", "models")),
                               names)


def split_pairs(data, split: str):
    """A :class:`~pipeline.evaluation.protocol.MatchingData` with the links of ``split``'s images as its pairs
    (the validation pairs, to choose settings with the evaluate protocol without reading the test split)."""
    import dataclasses

    import numpy as np

    pairs = [(image, word) for image, s in enumerate(data.splits) if s == split for word in data.image_words[image]]
    images, words = (np.array(column, dtype=np.int64) for column in zip(*pairs))
    return dataclasses.replace(data, pair_image=images, pair_word=words)


def child_env() -> dict[str, str]:
    """Environment for child processes: this checkout's ``pipeline`` package first on the path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env.setdefault("DVC_NO_ANALYTICS", "1")
    return env


def run_child(argv: Sequence[str], cwd: str | Path | None = None) -> tuple[dict[str, Any], float, int]:
    """Run ``python argv`` in its own process; it must print one JSON object as its last line.

    Returns
    -------
    (dict, float, int)
        The child's JSON result, its wall time in seconds, and the peak RSS in KiB of the largest
        single process of its tree (``wait4``'s ``ru_maxrss``: the child, or any descendant it
        waited for, e.g. DataLoader workers).
    """
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, *argv], stdout=subprocess.PIPE, cwd=cwd, env=child_env(),
                            text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)  # reap it ourselves to get its rusage
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stdout.close()
    wall = time.perf_counter() - started
    if proc.returncode:
        raise RuntimeError(f"bench child {' '.join(argv)} failed with exit status {proc.returncode}")
    lines = [line for line in out.strip().splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"bench child {' '.join(argv)} printed no JSON result:\n{out}")
    result = json.loads(lines[-1])
    return result, wall, usage.ru_maxrss


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``, read from /proc (torchrun starts its workers in sessions of their own,
    so a process group does not reach them)."""
    children = [int(c) for task in Path(f"/proc/{pid}/task").glob("*")
                for c in (task / "children").read_text().split()]
    return children + [d for c in children for d in descendants(c)]


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def kill_process_tree(run: subprocess.Popen, timeout: float = 30) -> list[int]:
    """SIGKILL ``run`` and every process below it at once, as when the machine running them goes down;
    return once none of them runs any more. Returns the pids below ``run`` that were killed."""
    below = descendants(run.pid)
    for pid in [run.pid, *below]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    run.wait()
    deadline = time.monotonic() + timeout
    while any(_running(pid) for pid in below):
        if time.monotonic() > deadline:
            raise TimeoutError(f"a killed process below {run.pid} still runs after {timeout:.0f} s")
        time.sleep(0.02)
    return below


def peak_rss_kib() -> dict[str, int]:
    """Peak RSS (KiB) of this process and of its largest reaped child (``getrusage``)."""
    import resource

    return {
        "self_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "children_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    }


def machine() -> dict[str, Any]:
    """CPU count, load average (1, 5, 15 min) and Python/torch versions, for the record."""
    info: dict[str, Any] = {
        "cpus": len(os.sched_getaffinity(0)),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "python": sys.version.split()[0],
    }
    return info


def print_machine(label: str) -> dict[str, Any]:
    info = machine()
    print(f"[{label}] {info['cpus']} CPUs, load average {' '.join(map(str, info['loadavg']))} (1/5/15 min)",
          flush=True)
    return info


def table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    """A GitHub-markdown table (it reads fine in a terminal too)."""
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
    return "\n".join([line(cells[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|",
                      *map(line, cells[1:])])


def verdict(value: float, target: float, higher_is_better: bool = True) -> str:
    ok = value >= target if higher_is_better else value <= target
    return "met" if ok else "MISSED"


def write_json(path: str | None, payload: dict[str, Any]) -> None:
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(payload, indent=2) + "\n")
        print(f"results written to {path}")

