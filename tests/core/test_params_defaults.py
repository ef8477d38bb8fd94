"""Every params dataclass's defaults are params.yaml's values: a section left out (or ``{}``) means what the
shipped params.yaml says, for every stage and every model of the registry."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from conftest import PAPER_IESG_KEYS
from pipeline.core.params import from_mapping, read_params
from pipeline.corpus.params import CorpusParams
from pipeline.evaluation.params import EvaluateParams
from pipeline.explorer.build import ExploreParams
from pipeline.features.featurize import FeaturesParams
from pipeline.images.params import MapImagesParams
from pipeline.models.params import PAPER_IESG, IESGParams
from pipeline.models.registry import REGISTRY
from pipeline.pretrain.word2vec import PretrainParams

REPO = Path(__file__).resolve().parents[2]
PARAMS = read_params(REPO / "params.yaml")
SECTIONS = {"corpus": CorpusParams, "pretrain": PretrainParams, "map_images": MapImagesParams,
            "features": FeaturesParams, "evaluate": EvaluateParams, "explore": ExploreParams}


def test_every_section_of_params_yaml_has_a_dataclass_here():
    assert set(PARAMS) == {*SECTIONS, "train"}


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_a_stage_sections_defaults_are_params_yaml(section):
    assert SECTIONS[section]() == from_mapping(SECTIONS[section], PARAMS[section], section)


@pytest.mark.parametrize("name", sorted(set(PARAMS["train"]) - {"seed", "models"}))
def test_a_models_defaults_are_its_params_yaml_section(name):
    spec = REGISTRY[name]
    assert spec.read_params(None, f"train.{name}") == spec.read_params(PARAMS["train"][name], f"train.{name}")


def test_params_yaml_has_a_section_for_every_registered_model():
    assert set(PARAMS["train"]) - {"seed", "models"} == set(REGISTRY)


def test_the_paper_iesg_keys_of_older_tests_are_where_the_paper_setting_and_params_yaml_differ():
    """Tests written when IESGParams defaulted to the paper's values spell those (conftest.PAPER_IESG_KEYS)."""
    differing = {key: value for key, value in dataclasses.asdict(PAPER_IESG).items()
                 if value != getattr(IESGParams(), key)}
    assert differing == {**yaml.safe_load(f"{{{PAPER_IESG_KEYS}}}"), "epochs": 5}
