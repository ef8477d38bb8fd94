"""pytest plugin for bench/mutation.py (mutmut 3), loaded only in its copy of the checkout (``-p
bench.mutation_plugin``); a plain ``pytest`` never loads it.

mutmut runs the tests in its ``mutants/`` copy with MUTANT_UNDER_TEST naming the active mutant; the
stage scripts that tests run in subprocesses inherit it (and import that copy: tests/conftest.py sets
their PYTHONPATH), so a failing stage kills a mutant too. While mutmut records which tests reach which
function (MUTANT_UNDER_TEST=stats), a subprocess's hits would be lost and its trampolines would look
for mutmut's config in the subprocess's working directory and fail: the subprocesses then load the
sitecustomize below, which reads the config of the copy and writes their hits to a folder, and each
test's hits are handed to mutmut before it files them under that test.

Each mutant's tests run in a fresh pytest session, which would build the ``tiny_run`` fixture (the
stages in subprocesses) again for every mutant that a tiny_run test reaches. The stats run (the
unmutated code) keeps its tiny run and the functions its stages reached in ``.mutmut_tiny_run``, tagged
with a fingerprint of the code they ran; a later session copies it instead of building, unless the
active mutant is in a function the build reached (then the mutant could change the tiny run, and it is
built anew). The copy is what the build would make: the same code on the same inputs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Callable

import pytest

# mutmut runs pytest inside its mutants/ copy: the root of every path below
ROOT = Path.cwd()
TINY_RUN_CACHE = ROOT / ".mutmut_tiny_run"

SUBPROCESS_HITS = """\
import atexit, json, os
if os.environ.get("MUTANT_UNDER_TEST") == "stats":
    from mutmut import configuration
    from mutmut.state import state
    _cwd = os.getcwd()
    os.chdir(os.environ["MUTMUT_HITS_ROOT"])
    configuration.config()
    os.chdir(_cwd)
    def _write_hits():
        with open(os.path.join(os.environ["MUTMUT_HITS_DIR"], f"{os.getpid()}.json"), "w") as f:
            json.dump(sorted(state()._stats), f)
    atexit.register(_write_hits)
"""


def recording() -> bool:
    return os.environ.get("MUTANT_UNDER_TEST") == "stats" and "mutmut" in sys.modules


def under_mutmut() -> bool:
    return "mutmut" in sys.modules and "MUTANT_UNDER_TEST" in os.environ


@pytest.fixture(autouse=True, scope="session")
def _mutmut_subprocess_hits(tmp_path_factory: pytest.TempPathFactory):
    if not recording():
        yield
        return
    hits = tmp_path_factory.mktemp("mutmut_hits")
    (hits / "sitecustomize.py").write_text(SUBPROCESS_HITS)
    saved = {k: os.environ.get(k) for k in ("PYTHONPATH", "MUTMUT_HITS_DIR", "MUTMUT_HITS_ROOT")}
    os.environ.update(PYTHONPATH=os.pathsep.join(p for p in (str(hits), os.environ.get("PYTHONPATH")) if p),
                      MUTMUT_HITS_DIR=str(hits), MUTMUT_HITS_ROOT=str(ROOT))
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item):
    """Hand the hits of this test's subprocesses to mutmut (whose own teardown hook runs after)."""
    folder = os.environ.get("MUTMUT_HITS_DIR")
    if not (folder and recording()):
        return
    from mutmut.state import state

    for path in Path(folder).glob("*.json"):
        state()._stats.update(json.loads(path.read_text()))
        path.unlink()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    """With a mutant active, run the tests without tiny_run first: with ``-x``, a mutant that a unit test
    kills then never waits for a tiny run; the same tests run, only in another order."""
    if under_mutmut() and "__mutmut_" in os.environ["MUTANT_UNDER_TEST"]:
        items.sort(key=lambda item: "tiny_run" in getattr(item, "fixturenames", ()))


def pytest_configure(config: pytest.Config) -> None:
    config.wrap_tiny_run_build = wrap_tiny_run_build


def fingerprint() -> str:
    """Hash of what a tiny run depends on: the package and the stage scripts (mutmut's copies, the
    trampolines included), tests/conftest.py and dvc.yaml."""
    digest = hashlib.sha256()
    files = [p for folder in ("pipeline", "stages") for p in sorted((ROOT / folder).rglob("*.py"))]
    for path in [*files, ROOT / "tests" / "conftest.py", ROOT / "dvc.yaml"]:
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def copy_cached(root: Path) -> bool:
    """Copy the unmutated tiny run into ``root`` if it is the one this session would build."""
    if not under_mutmut():
        return False
    mutant = os.environ["MUTANT_UNDER_TEST"]
    if mutant != "" and "__mutmut_" not in mutant:  # stats, fail, list_all_tests: build as usual
        return False
    try:
        meta = json.loads((TINY_RUN_CACHE / "meta.json").read_text())
    except (OSError, ValueError):
        return False
    if meta.get("fingerprint") != fingerprint():
        return False
    if mutant and mutant.partition("__mutmut_")[0] in set(meta["reached"]):
        return False
    shutil.copytree(TINY_RUN_CACHE / "root", root, dirs_exist_ok=True)
    return True


def build_and_cache(root: Path, build: Callable[[Path], None]) -> None:
    """While mutmut records hits: build, then keep the tiny run and every function it reached (in this
    process and in the stage subprocesses, whose hit files are left for pytest_runtest_teardown)."""
    from mutmut.state import state

    before = set(state()._stats)
    state()._stats.clear()
    folder = Path(os.environ["MUTMUT_HITS_DIR"])
    seen = set(folder.glob("*.json"))
    build(root)
    reached = set(state()._stats)
    state()._stats.update(before)
    for path in set(folder.glob("*.json")) - seen:
        reached.update(json.loads(path.read_text()))
    staging = TINY_RUN_CACHE.with_name(TINY_RUN_CACHE.name + f".{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(root, staging / "root")
    (staging / "meta.json").write_text(json.dumps({"fingerprint": fingerprint(), "reached": sorted(reached)}))
    shutil.rmtree(TINY_RUN_CACHE, ignore_errors=True)
    staging.rename(TINY_RUN_CACHE)


def wrap_tiny_run_build(build: Callable[[Path], None]) -> Callable[[Path], None]:
    """conftest's tiny_run build, with the cache above in front of it."""
    def cached_build(root: Path) -> None:
        if copy_cached(root):
            return
        if recording() and os.environ.get("MUTMUT_HITS_DIR"):
            build_and_cache(root, build)
        else:
            build(root)
    return cached_build
