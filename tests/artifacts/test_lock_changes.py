"""pipeline/artifacts/lock_changes.py: what setup.sh says about a dvc.lock that `dvc repro` rewrote."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline.artifacts.lock_changes import MESSAGES, lock_change

REPO = Path(__file__).resolve().parents[2]
LOCK = {"schema": "2.0", "stages": {
    "pretrain": {"cmd": "python stages/pretrain.py",
                 "deps": [{"path": "stages/pretrain.py", "md5": "aaa"}],
                 "outs": [{"path": "out/vectors", "md5": "bbb.dir"}]},
    "train@l2": {"cmd": "python stages/train.py --model l2",
                 "deps": [{"path": "stages/train.py", "md5": "ccc"}],
                 "params": {"params.yaml": {"train.seed": 0}},
                 "outs": [{"path": "out/model", "md5": "ddd.dir"}]}}}


def changed(stage: str, field: str, md5: str) -> str:
    lock = yaml.safe_load(yaml.safe_dump(LOCK))
    lock["stages"][stage][field][0]["md5"] = md5
    return yaml.safe_dump(lock)


def test_an_unchanged_lock_is_none_even_when_reformatted():
    assert lock_change(yaml.safe_dump(LOCK), yaml.safe_dump(LOCK, indent=4)) == "none"


def test_a_changed_dependency_or_param_record_with_the_same_outputs_is_records():
    assert lock_change(yaml.safe_dump(LOCK), changed("pretrain", "deps", "zzz")) == "records"
    lock = yaml.safe_load(yaml.safe_dump(LOCK))
    lock["stages"]["train@l2"]["params"]["params.yaml"]["train.seed"] = 1
    assert lock_change(yaml.safe_dump(LOCK), yaml.safe_dump(lock)) == "records"


def test_a_changed_output_hash_is_outputs():
    assert lock_change(yaml.safe_dump(LOCK), changed("train@l2", "outs", "eee.dir")) == "outputs"
    fewer = yaml.safe_load(yaml.safe_dump(LOCK))
    del fewer["stages"]["train@l2"]
    assert lock_change(yaml.safe_dump(LOCK), yaml.safe_dump(fewer)) == "outputs"


def git(folder: Path, *argv: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    subprocess.run(["git", *argv], cwd=folder, check=True, capture_output=True, env=env)


def lock_changes(folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline.artifacts.lock_changes"], cwd=folder, text=True,
                          capture_output=True)


@pytest.mark.parametrize("current, change", [
    (yaml.safe_dump(LOCK), "none"),
    (changed("pretrain", "deps", "zzz"), "records"),
    (changed("pretrain", "outs", "yyy.dir"), "outputs"),
], ids=["none", "records", "outputs"])
def test_the_command_prints_what_the_change_means(tmp_path, current, change):
    git(tmp_path, "init", "-q")
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(LOCK))
    git(tmp_path, "add", "dvc.lock")
    git(tmp_path, "commit", "-qm", "lock")
    (tmp_path / "dvc.lock").write_text(current)
    result = lock_changes(tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == MESSAGES[change].strip()


def test_outside_a_git_checkout_it_says_so_in_one_line(tmp_path):
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(LOCK))
    result = lock_changes(tmp_path)
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1 and "no committed dvc.lock" in result.stderr


def test_setup_sh_ends_with_this_check():
    assert "python3 -m pipeline.artifacts.lock_changes" in (REPO / "setup.sh").read_text()
