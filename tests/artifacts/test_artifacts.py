"""pipeline/artifacts/layout.py against dvc.yaml: the same paths, and each stage's deps, outs and command are the
artifacts the layout declares for it; no other Python file spells an artifact's path."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import yaml
from gensim.models import KeyedVectors

from pipeline.artifacts.features import read_features
from pipeline.artifacts.grounding import join_grounding
from pipeline.artifacts.layout import ARTIFACTS, STAGES, dvc_vars
from pipeline.core.errors import PipelineError
from pipeline.artifacts.tables import read_images
from pipeline.artifacts.training_inputs import encode_corpus

REPO = Path(__file__).resolve().parents[2]
CODE = ("pipeline/", "stages/")
TEMPLATE = re.compile(r"\$\{paths\.(\w+)\}")


def dvc_document() -> dict:
    return yaml.safe_load((REPO / "dvc.yaml").read_text())


def resolved(text: str) -> str:
    """A dvc.yaml path with its ``${paths.NAME}`` vars filled from the layout, ``${item}`` as ``{model}``."""
    return TEMPLATE.sub(lambda m: ARTIFACTS[m.group(1)].path, text).replace("${item}", "{model}")


def entries(items: list) -> list[str]:
    """The paths of a deps / outs / metrics list (an out with options is a one-key mapping)."""
    return [item if isinstance(item, str) else next(iter(item)) for item in items]


def stage(name: str) -> dict:
    definition = dvc_document()["stages"][name]
    return definition.get("do", definition)


def test_dvc_yaml_vars_spell_the_layout_paths():
    (paths,) = [entry["paths"] for entry in dvc_document()["vars"] if "paths" in entry]
    assert paths == dvc_vars()


def test_every_stage_of_dvc_yaml_is_in_the_layout():
    assert set(dvc_document()["stages"]) == set(STAGES)


@pytest.mark.parametrize("name", sorted(STAGES))
def test_a_stages_data_deps_and_outs_are_the_artifacts_it_reads_and_writes(name):
    definition, files = stage(name), STAGES[name]
    data_deps = [dep for dep in definition["deps"] if not dep.startswith(CODE)]
    outs = entries(definition.get("outs", [])) + entries(definition.get("metrics", []))
    assert all(TEMPLATE.match(path) for path in data_deps + outs), f"{name}: a path spelled out instead of ${{paths.}}"
    assert sorted(map(resolved, data_deps)) == sorted(ARTIFACTS[a].path for a in files.reads + files.after)
    assert sorted(map(resolved, outs)) == sorted(ARTIFACTS[a].path for a in files.writes)


@pytest.mark.parametrize("name", sorted(STAGES))
def test_a_stage_gets_every_artifact_path_on_its_command_line(name):
    definition, files = stage(name), STAGES[name]
    given = [resolved(value) for value in re.findall(r"--[\w-]+ (\S*\$\{paths\.\S+)", definition["cmd"])]
    assert sorted(given) == sorted(ARTIFACTS[a].path for a in files.arguments)
    # the image files are reached through the paths images.csv lists, relative to the run root
    for artifact in set(files.reads + files.writes) - {"image_files"}:
        path = ARTIFACTS[artifact].path
        assert any(path == arg or path.startswith(arg + "/") for arg in given), f"{name}: {artifact} not given"


def test_per_model_artifacts_fill_in_the_model():
    assert ARTIFACTS["model"].at("run", "iesg") == Path("run") / ARTIFACTS["models"].path / "iesg"
    with pytest.raises(ValueError):
        ARTIFACTS["model"].at("run")
    with pytest.raises(ValueError):
        ARTIFACTS["features"].at("run", "iesg")


def _string_constants(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def test_no_python_file_but_the_layout_spells_an_artifact_path():
    paths = [a.path for a in ARTIFACTS.values() if "/" in a.path and "{model}" not in a.path]
    files = [p for folder in ("pipeline", "stages", "bench", "tests") for p in sorted((REPO / folder).rglob("*.py"))]
    spelled = [f"{file.relative_to(REPO)}:{line}: {value!r}" for file in files
               if file != REPO / "pipeline/artifacts/layout.py"
               for line, value in _string_constants(file)
               if any(value == path or value.startswith(path + "/") for path in paths)]
    assert not spelled, "\n".join(spelled)


def test_unknown_split_values_are_listed_comma_separated_in_one_error(tmp_path):
    table = tmp_path / "images.csv"
    table.write_text("image_id,path,split\na,a.png,train\nb,b.png,holdout\nc,c.png,dev\nd,d.png,dev\n")
    with pytest.raises(PipelineError, match=r"images\.csv: unknown split value\(s\) dev, holdout; expected "
                                            r"train/val/test$"):
        read_images(table)


def test_features_are_read_as_float32_whatever_the_file_stores(tmp_path):
    path = tmp_path / "features.h5"
    with h5py.File(path, "w") as h5:
        h5["features"] = np.array([[0.5, 1.5], [2.0, -1.0]], dtype=np.float16)
        h5["image_ids"] = np.array([b"a", b"b"])
    ids, features = read_features(path)
    assert ids == ["a", "b"] and features.dtype == np.float32
    np.testing.assert_array_equal(features, [[0.5, 1.5], [2.0, -1.0]])


def test_the_join_names_the_files_a_stale_or_unknown_row_comes_from():
    images = pd.DataFrame({"image_id": ["a"], "path": ["a.png"], "split": ["train"]})
    links = pd.DataFrame({"image_id": ["a"], "word": ["zebra"]})
    vocabulary = KeyedVectors(2)
    vocabulary.add_vectors(["dog"], np.ones((1, 2), dtype=np.float32))
    with pytest.raises(PipelineError, match=r"^features\.h5: image b is not in images\.csv; the features are stale"):
        join_grounding(images, links, ["a", "b"], np.zeros((2, 2), np.float32), vocabulary)
    with pytest.raises(PipelineError, match=r"^links\.csv: 1 linked word\(s\) not in the word vectors \(e\.g\. 'zebra'\)"):
        join_grounding(images, links, ["a"], np.zeros((1, 2), np.float32), vocabulary)


def test_encoding_the_corpus_shows_its_progress_in_bytes(tmp_path, capsys):
    corpus = tmp_path / "text.txt"
    corpus.write_text("dog cat fish " * 200 + "\n")  # 2,601 bytes
    tokens = encode_corpus(corpus, {"dog": 0, "cat": 1})
    assert len(tokens) == 600 and tokens[:3].tolist() == [0, 1, -1]
    err = capsys.readouterr().err
    assert "encode corpus" in err and "2.60k/2.60k" in err
