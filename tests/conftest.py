"""Make this checkout's ``pipeline`` package the one that stage scripts run by the tests import,
even when another clone is pip-installed in editable mode on the same machine."""

import os
from pathlib import Path

REPO = str(Path(__file__).resolve().parents[1])
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (REPO, os.environ.get("PYTHONPATH")) if p)
