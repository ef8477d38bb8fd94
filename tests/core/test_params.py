"""params.yaml read as DVC reads it (YAML 1.2), checked before the heavy imports, with "did you mean" for a
misspelt key or model, and an unknown model caught by the project under a real `dvc repro`."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from dvc.utils.serialize import parse_yaml

from pipeline.core.errors import PipelineError
from pipeline.core.params import load_section, read_params
from pipeline.models.registry import REGISTRY, get_model, load_train_config

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "stages"))
from check_params import SECTIONS  # noqa: E402  (the stage's table: section -> dataclass)

YAML_1_1_VERSUS_1_2 = """\
exponent: 1e-3
dotted_exponent: 1.0e-3
yes_word: yes
off_word: off
leading_zero: 017
octal: 0o17
sexagesimal: 1:20
nothing: ~
"""


def test_params_are_read_as_dvc_reads_them(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(YAML_1_1_VERSUS_1_2)
    read = read_params(path)
    assert read == parse_yaml(YAML_1_1_VERSUS_1_2, str(path))
    assert read == {"exponent": 0.001, "dotted_exponent": 0.001, "yes_word": "yes", "off_word": "off",
                    "leading_zero": 17, "octal": 15, "sexagesimal": "1:20", "nothing": None}


def test_an_exponent_without_a_dot_is_a_float(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("train:\n  models: [iesg]\n  iesg: {lr: 1e-3, weight_decay: 5e-4}\n")
    iesg = load_train_config(str(path)).sections["iesg"]
    assert (iesg.lr, iesg.weight_decay) == (0.001, 0.0005)


def test_a_yes_for_a_boolean_is_refused_as_dvc_reads_it_a_string(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("train:\n  models: [iesg]\n  iesg: {update_words: yes}\n")
    with pytest.raises(PipelineError, match="train.iesg.update_words: expected bool, got str 'yes'"):
        load_train_config(str(path))


def test_the_default_params_give_every_stage_the_values_yaml_1_1_gave():
    """The project's params.yaml has no value that YAML 1.1 and 1.2 read differently: the effective params
    of every stage are unchanged by the switch."""
    path = REPO / "params.yaml"
    assert read_params(path) == yaml.safe_load(path.read_text())
    for section, cls in SECTIONS.items():
        assert dataclasses.is_dataclass(load_section(cls, section, path))


def test_a_misspelt_key_names_the_closest_one(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("train:\n  models: [iesg]\n  iesg: {lamda: 2.0}\n")
    with pytest.raises(PipelineError) as error:
        load_train_config(str(path))
    assert str(error.value) == "params train.iesg: unknown key(s) 'lamda' (did you mean 'lam'?)"


def test_a_key_with_no_close_match_lists_the_known_keys(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("train:\n  models: [l2]\n  l2: {lamda: 2.0, zzz: 1}\n")
    with pytest.raises(PipelineError) as error:
        load_train_config(str(path))
    assert str(error.value) == ("params train.l2: unknown key(s) 'lamda', 'zzz'; "
                                "known keys: ridge, normalize_features, center_features")


def test_a_misspelt_model_names_the_closest_one():
    with pytest.raises(PipelineError, match=r"unknown model 'contrastiv' \(did you mean 'contrastive'\?\); known"):
        get_model("contrastiv")


BAD_VALUES = {  # stage: (the key set to "abc", the stage's extra arguments)
    "train": ("train.iesg.lr", ["--model", "iesg"]),
    "pretrain": ("pretrain.epochs", []),
    "map_images": ("map_images.seed", []),
    "featurize": ("features.batch_size", []),
    "evaluate": ("evaluate.candidates", []),
    "explore": ("explore.top_k", []),
    "check_params": ("pretrain.epochs", []),
}
REPORT_HEAVY_IMPORTS = """
import atexit, runpy, sys
atexit.register(lambda: print("imported:", *sorted({"torch", "gensim", "nltk"} & set(sys.modules)), file=sys.stderr))
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


@pytest.mark.parametrize("stage", sorted(BAD_VALUES))
def test_a_bad_param_is_refused_before_torch_gensim_or_nltk_is_imported(stage, tmp_path):
    key, extra = BAD_VALUES[stage]
    document = yaml.safe_load((REPO / "params.yaml").read_text())
    *parents, name = key.split(".")
    section = document
    for parent in parents:
        section = section[parent]
    section[name] = "abc"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(document))
    result = subprocess.run([sys.executable, "-c", REPORT_HEAVY_IMPORTS, str(REPO / "stages" / f"{stage}.py"),
                             "--params", str(tmp_path / "params.yaml"), *extra],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    error, imported = result.stderr.strip().splitlines()[-2:]
    assert error.startswith(f"error: params {key}: expected ") and error.endswith("got str 'abc'"), result.stderr
    assert imported == "imported:", result.stderr


@pytest.mark.parametrize("target", [[], ["train@clip"]], ids=["all", "train@clip"])
def test_an_unknown_model_under_dvc_repro_is_the_projects_error_line(tmp_path, target):
    """The real dvc.yaml and params.yaml with ``clip`` added to train.models: `dvc repro` (of everything, or of
    the unknown model's own stage) stops at check_params with the project's line, not at train@clip with DVC's
    "Parameters 'train.clip' are missing"."""
    document = yaml.safe_load((REPO / "params.yaml").read_text())
    document["train"]["models"].append("clip")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    shutil.copy(REPO / "dvc.yaml", tmp_path / "dvc.yaml")
    env = {**os.environ, "DVC_NO_ANALYTICS": "1",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    for command in (["git", "init", "-q"], ["dvc", "init", "-q"]):
        subprocess.run(command, cwd=tmp_path, env=env, check=True, capture_output=True)
    (tmp_path / "stages").symlink_to(REPO / "stages")
    (tmp_path / "pipeline").symlink_to(REPO / "pipeline")
    result = subprocess.run(["dvc", "repro", *target], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert f"error: params train.models: unknown model 'clip'; known models: {', '.join(REGISTRY)}" in output, output
    assert "Running stage 'check_params'" in output and "Running stage 'fetch_corpus'" not in output, output
    assert "are missing" not in output, output
