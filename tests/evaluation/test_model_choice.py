"""The default model: the best validation P@1, as the API, the CLI and the evaluate stage choose it."""

from __future__ import annotations

import json
import math

import pytest

from pipeline.core.errors import PipelineError
from pipeline.evaluation.model_choice import BEST, best_model, chosen_by, model_label, resolve_model
from toy_taxonomy import run_stage, write_fixture


def test_the_best_model_is_the_highest_validation_p1_wherever_it_is_listed():
    val_p1 = {"l2": 0.451, "devise": 0.431, "iesg": 0.392, "contrastive": 0.549, "joint": 0.569}
    assert best_model(val_p1) == "joint"
    assert best_model({"l2": 0.5, "iesg": 0.6, "joint": 0.6}) == "iesg"  # a tie: the first in train.models' order
    assert best_model({"l2": math.nan, "devise": 0.1}) == "devise"  # a model without a value never wins
    with pytest.raises(PipelineError, match="no trained model has a validation P@1"):
        best_model({"l2": math.nan})


def test_best_resolves_to_a_model_and_says_why():
    val_p1 = {"l2": 0.451, "joint": 0.569}
    assert resolve_model(BEST, val_p1) == "joint" and resolve_model("l2", val_p1) == "l2"
    assert chosen_by(BEST, "joint", val_p1) == "best validation P@1 0.569"
    assert chosen_by(BEST, "joint", val_p1, "of the models that learn word vectors") == (
        "best validation P@1 of the models that learn word vectors 0.569")
    assert chosen_by("l2", "l2", val_p1) == "named"
    assert model_label("joint", "best validation P@1 0.569") == "joint (best validation P@1 0.569)"
    assert model_label("l2", "named") == "l2"


def test_evaluate_analyses_the_best_model_unless_one_is_named(tmp_path):
    """The toy run's models are listed l2, iesg, devise; devise, the last, gets the best validation P@1."""
    paths = write_fixture(tmp_path / "in")
    (paths["models"] / "devise" / "train.json").write_text(json.dumps({"val_p1": 0.9}))
    best = tmp_path / "best"
    best.mkdir()
    result = run_stage(paths, best)
    assert result.returncode == 0, result.stderr
    assert "; devise (best validation P@1 0.900), cos score: P@1 image->word" in result.stdout
    report = json.loads((best / "report/report.json").read_text())
    assert report["caption"].startswith("Model devise (best validation P@1 0.900), cos score; ")

    params = paths["params"].read_text()
    named = tmp_path / "named"
    named.mkdir()
    paths["params"].write_text(params.replace("evaluate:\n", "evaluate:\n  analysis_model: devise\n"))
    result = run_stage(paths, named)
    assert result.returncode == 0, result.stderr
    assert "; devise, cos score: P@1 image->word" in result.stdout
    for name in ("report/examples.json", "report/errors.json", "metrics.json"):
        assert (named / name).read_text() == (best / name).read_text(), name

    paper = tmp_path / "paper"
    paper.mkdir()
    paths["params"].write_text(params.replace("evaluate:\n", "evaluate:\n  analysis_model: iesg\n  analysis_score: dot\n"))
    result = run_stage(paths, paper)
    assert result.returncode == 0, result.stderr
    assert "; iesg, dot score: P@1 image->word" in result.stdout
    assert (paper / "report/examples.json").read_text() != (best / "report/examples.json").read_text()

    paths["params"].write_text(params.replace("evaluate:\n", "evaluate:\n  analysis_model: bets\n"))
    result = run_stage(paths, paper)
    assert result.returncode != 0
    assert "params evaluate.analysis_model: 'bets' is not in train.models (l2, iesg, devise) nor 'random' nor 'best'" \
        in result.stderr
