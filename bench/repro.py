"""End-to-end benchmark: wall time of `dvc repro` of the default pipeline from a clean cache, then of
a no-op `dvc repro` (everything up to date).

    python bench/repro.py --clone-from . --repo /tmp/iesg-bench --downloads data/downloads

The pipeline runs in a fresh ``git clone`` (``--repo``; never in a working checkout), so there are
no outputs and no DVC cache: every stage runs. ``--downloads`` copies the pinned ``.deb`` files
already downloaded elsewhere into the clone's download cache (``data/downloads``, outside DVC), so
the run needs no network and measures the pipeline rather than the mirror; their unpacking still
runs. The stages import the clone's own ``pipeline`` package (``PYTHONPATH``). Per-stage times
are read from DVC's "Running stage" lines as they come. Target (issue 5): no-op repro < 10 s.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import print_machine, table, verdict, write_json  # noqa: E402

from pipeline.artifacts.layout import ARTIFACTS  # noqa: E402

TARGET_NOOP = 10.0


def timed_repro(repo: Path, extra: list[str], log: Path) -> tuple[float, list[tuple[str, float]], int]:
    """Run ``dvc repro`` in ``repo``; return wall seconds, (stage, seconds) in order, exit status."""
    env = dict(os.environ, DVC_NO_ANALYTICS="1", PYTHONPATH=str(repo))
    started = time.perf_counter()
    stages: list[tuple[str, float]] = []
    with open(log, "a") as out:
        proc = subprocess.Popen(["dvc", "repro", *extra], cwd=repo, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, bufsize=1)
        for line in proc.stdout:
            out.write(line)
            match = re.match(r"Running stage '([^']+)'", line.strip())
            if match:
                stages.append((match.group(1), time.perf_counter()))
                print(f"  {time.perf_counter() - started:7.1f} s  {line.strip()}", flush=True)
        status = proc.wait()
    wall = time.perf_counter() - started
    ends = [t for _, t in stages[1:]] + [started + wall]
    return wall, [(name, end - begin) for (name, begin), end in zip(stages, ends)], status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", required=True, help="where the fresh clone is made (must not exist) or is")
    parser.add_argument("--clone-from", help="git repository to clone into --repo (default: use --repo as is)")
    parser.add_argument("--downloads", help="directory of already downloaded .deb files to copy into the clone")
    parser.add_argument("--noop-runs", type=int, default=3, help="no-op repros timed after the full one")
    parser.add_argument("--skip-full", action="store_true", help="only time the no-op repro (pipeline already run)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()

    repo = Path(args.repo).resolve()
    if args.clone_from:
        if repo.exists():
            raise SystemExit(f"{repo} exists; give a new directory for the clean clone")
        subprocess.run(["git", "clone", "-q", str(Path(args.clone_from).resolve()), str(repo)], check=True)
    if args.downloads:
        target = ARTIFACTS["downloads"].at(repo)
        target.mkdir(parents=True, exist_ok=True)
        for deb in sorted(Path(args.downloads).glob("*.deb")):
            shutil.copy2(deb, target / deb.name)
    log = repo.parent / f"{repo.name}.repro.log"
    before = print_machine("repro bench, start")
    payload: dict = {"repo": str(repo), "machine_start": before}
    rows = []
    if not args.skip_full:
        if (repo / ".dvc/cache").exists() and any((repo / ".dvc/cache").iterdir()):
            raise SystemExit(f"{repo}/.dvc/cache is not empty: not a clean cache")
        wall, stages, status = timed_repro(repo, [], log)
        if status:
            raise SystemExit(f"dvc repro failed (exit {status}); see {log}")
        payload["full_seconds"], payload["stages"] = wall, dict(stages)
        rows += [[f"  stage {name}", f"{seconds:.1f}", ""] for name, seconds in stages]
        rows.insert(0, ["dvc repro, clean cache (all stages)", f"{wall:.1f}", ""])
        print(f"full repro: {wall:.1f} s", flush=True)
    noop = []
    for _ in range(args.noop_runs):
        wall, stages, status = timed_repro(repo, [], log)
        if status or stages:
            raise SystemExit(f"the no-op repro ran {[s for s, _ in stages]} (exit {status}); see {log}")
        noop.append(wall)
    if noop:
        payload["noop_seconds"] = noop
        rows.append(["dvc repro, no-op (best of %d)" % len(noop), f"{min(noop):.1f}",
                     f"< {TARGET_NOOP:.0f} s: {verdict(min(noop), TARGET_NOOP, higher_is_better=False)}"])
    print("\n" + table(rows, ["run", "seconds", "target"]))
    payload["machine_end"] = print_machine("repro bench, end")
    print(f"dvc output in {log}")
    write_json(args.json, payload)


if __name__ == "__main__":
    main()
