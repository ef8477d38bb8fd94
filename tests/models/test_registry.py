"""The model registry and the train section: models found by name, bad names refused in one line."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.core.errors import PipelineError
from pipeline.models.registry import REGISTRY, get_model, load_train_config

REPO = Path(__file__).resolve().parents[2]


def write_params(tmp_path: Path, train: str) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text("train:\n" + train)
    return path


def test_every_registered_model_has_validated_params_and_a_train_function():
    for name, spec in REGISTRY.items():
        assert dataclasses.is_dataclass(spec.params), name
        assert isinstance(spec.read_params(None, f"train.{name}"), spec.params), name
        assert callable(spec.train)


def test_an_unknown_model_is_one_error_naming_the_known_ones():
    with pytest.raises(PipelineError, match=r"unknown model 'clip'; known models: l2, devise, iesg, iesg_paper"):
        get_model("clip")


def test_the_train_section_gives_each_listed_model_its_params(tmp_path):
    path = write_params(tmp_path, "  seed: 3\n  models: [l2, iesg]\n  l2: {}\n  iesg: {lr: 0.5, setting: paper}\n")
    config = load_train_config(str(path))
    assert (config.seed, config.models) == (3, ["l2", "iesg"])
    assert config.sections["iesg"].lr == 0.5 and config.sections["iesg"].setting == "paper"
    assert config.sections["l2"] == REGISTRY["l2"].params()


@pytest.mark.parametrize("train, message", [
    ("  models: [l2, clip]\n", "unknown model 'clip'"),
    ("  models: [l2]\n", r"no section for l2 of train.models; add train.l2"),
    ("  models: []\n", "train.models: expected a non-empty list"),
    ("  models: [l2, l2]\n", "listed twice"),
    ("  models: [l2]\n  l2x: {ridge: 1}\n", r"train.l2x: not a registered model"),
    ("  models: [l2]\n  l2: {ridge: -1}\n", r"params train.l2.ridge: must be >= 0, got -1.0$"),
    ("  models: [l2]\n  l2: {rigde: 1}\n", r"unknown key\(s\) 'rigde' \(did you mean 'ridge'\?\)"),
])
def test_bad_train_sections_are_refused(tmp_path, train, message):
    with pytest.raises(PipelineError, match=message):
        load_train_config(str(write_params(tmp_path, train)))


def test_the_train_stage_refuses_an_unknown_model_in_one_line(tmp_path):
    params = write_params(tmp_path, "  models: [l2]\n  l2: {}\n")
    result = subprocess.run([sys.executable, str(REPO / "stages/train.py"), "--model", "clip",
                             "--params", str(params)], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: params train.models: unknown model 'clip'; known models: {', '.join(REGISTRY)}"]
    assert not (tmp_path / "data").exists()
