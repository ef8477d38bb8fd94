"""Adding a model is one module, one registry entry and one params section: docs/models.md's worked example
(section "Adding a model"), registered here only, runs through the train and evaluate stages of the tiny run."""

from __future__ import annotations

import dataclasses
import json
import re
import runpy
import shutil
import sys
from pathlib import Path

import yaml

from conftest import at
from pipeline.models import registry
from pipeline.models.registry import ModelSpec

REPO = Path(__file__).resolve().parents[2]


def readme_example() -> tuple[str, str, str]:
    """The module, the registry entry and the params section of docs/models.md's "Adding a model"."""
    models = (REPO / "docs/models.md").read_text()
    section = models.split("## Adding a model\n", 1)[1].split("\n## ", 1)[0]
    (module, entry), (params,) = (re.findall(rf"```{kind}\n(.*?)```", section, re.S) for kind in ("python", "yaml"))
    return module, entry, params


def run_stage(script: str, *arguments: str) -> None:
    """A stage script's ``main`` in this process (where the test's registry entry exists)."""
    main = runpy.run_path(str(REPO / "stages" / script), run_name="stage")["main"]
    saved = sys.argv
    sys.argv = [script, *arguments]
    try:
        main()
    finally:
        sys.argv = saved


def test_the_docs_example_model_trains_and_is_evaluated(tiny_run, tmp_path, monkeypatch):
    module, entry, section = readme_example()
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "readme_procrustes.py").write_text(module)
    monkeypatch.syspath_prepend(str(tmp_path / "code"))
    [(name, spec)] = eval("{" + entry + "}", {"ModelSpec": ModelSpec}).items()
    assert (name, spec.module) == ("procrustes", "pipeline.models.procrustes")
    monkeypatch.setitem(registry.REGISTRY, name, dataclasses.replace(spec, module="readme_procrustes"))

    root = tmp_path / "project"
    shutil.copytree(tiny_run, root)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["train"]["models"].append(name)
    params["train"].update(yaml.safe_load(section))
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    monkeypatch.chdir(root)
    before = json.loads(at(root, "metrics").read_text())["matching"]

    run_stage("train.py", "--model", name)
    summary = json.loads((at(root, "models") / name / "train.json").read_text())
    assert (summary["model"], summary["kept_epoch"], summary["epochs_run"]) == (name, 1, 1)
    assert json.loads((root / "dvclive" / name / "metrics.json").read_text())["val_p1"] == summary["val_p1"]

    run_stage("evaluate.py")
    matching = json.loads(at(root, "metrics").read_text())["matching"]
    assert set(matching) == {*before, name}
    for direction in ("image_to_word", "word_to_image"):
        assert 0 <= matching[name][direction]["cos"]["p1"] <= 1
        assert matching[name][direction]["dot"]["pairs"] == before["l2"][direction]["dot"]["pairs"]
        # The models trained before rank the same candidates as before (drawn from the data and the seed alone).
        for model in before:
            for score in ("dot", "cos"):
                old, new = before[model][direction][score], matching[model][direction][score]
                assert [old[f"p{k}"] for k in (1, 5, 10)] == [new[f"p{k}"] for k in (1, 5, 10)], (model, score)
