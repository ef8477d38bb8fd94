"""What a `dvc repro` changed in ``dvc.lock`` against the committed one, and what that means for a user.

``bash setup.sh`` ends with ``python -m pipeline.artifacts.lock_changes``: on a fresh clone the lock either
stays as committed, changes only in its records of the code and params (every output hash is the committed
one), or changes in its outputs (another CPU's last float bits, or a change of the user's).
"""

from __future__ import annotations

import subprocess
import sys
from typing import Literal

import yaml

Change = Literal["none", "records", "outputs"]

MESSAGES: dict[Change, str] = {
    "none": "",
    "records": """
dvc.lock changed only in its records of the code and params the stages ran with: every output is the
committed one. `git diff dvc.lock` shows which; commit it with your change.""",
    "outputs": """
dvc.lock changed: this machine's CPU gives word2vec and the models different last float bits than the
machine that committed it, so every stage from pretrain on wrote new hashes and the metrics moved (within
their intervals). Nothing is wrong. To share identical artifacts, configure a DVC remote, `dvc push` from
one machine and `dvc pull` everywhere else (docs/scaling-and-reproducibility.md).""",
}


def output_hashes(lock_text: str) -> dict[tuple[str, str], str | None]:
    """``(stage, out path) -> md5`` of every output recorded in a ``dvc.lock`` text."""
    stages = (yaml.safe_load(lock_text) or {}).get("stages", {})
    return {(stage, out["path"]): out.get("md5") for stage, entry in stages.items() for out in entry.get("outs", [])}


def lock_change(committed: str, current: str) -> Change:
    """How ``current`` differs from ``committed`` (both ``dvc.lock`` texts)."""
    if yaml.safe_load(committed) == yaml.safe_load(current):
        return "none"
    return "records" if output_hashes(committed) == output_hashes(current) else "outputs"


def main() -> None:
    committed = subprocess.run(["git", "show", "HEAD:dvc.lock"], capture_output=True, text=True)
    if committed.returncode:
        sys.exit(f"error: no committed dvc.lock to compare with ({committed.stderr.strip()}); run this in a git "
                 "checkout of the project")
    try:
        with open("dvc.lock", encoding="utf-8") as lock:
            current = lock.read()
    except FileNotFoundError:
        sys.exit("error: dvc.lock not found in the working directory; run `dvc repro` first")
    message = MESSAGES[lock_change(committed.stdout, current)]
    if message:
        print(message)


if __name__ == "__main__":
    main()
