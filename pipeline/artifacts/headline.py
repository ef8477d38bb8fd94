"""The headline metrics (``dvc metrics``): a directory of small JSON files, one per trained model
(``<model>.json``: test P@1 both ways, validation P@1, word -> image full-ranking R@1 and top-1 hub share, and the
word similarity of the model's own vectors where they are a headline space) and ``pretrained.json`` (the word
similarity of the pretrained vectors). ``dvc metrics show`` prints one short row per file and ``dvc metrics diff``
one line per number; every other number is in the evaluate stage's details (``results/evaluate.json``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from pipeline.core.errors import PipelineError
from pipeline.core.files import atomic_path

PRETRAINED = "pretrained"
MATCHING_KEYS = {"image_to_word": "i2w_p1", "word_to_image": "w2i_p1"}
SIMILARITY_KEYS = {"ws353_similarity": "ws353_sim", "ws353_relatedness": "ws353_rel", "simlex999": "simlex",
                   "men": "men"}
VALIDATION_KEY = "val_p1"
RETRIEVAL_KEYS = {"r1": "w2i_r1", "hub_share": "w2i_hub"}


def write_headline(directory: str | Path, files: Mapping[str, Mapping[str, float]]) -> None:
    """Write ``directory`` (atomically, replacing it) with one ``<name>.json`` per entry of ``files``."""
    with atomic_path(Path(directory)) as staged:
        staged.mkdir(parents=True)
        for name, numbers in files.items():
            (staged / f"{name}.json").write_text(json.dumps(dict(numbers), indent=2, sort_keys=True) + "\n")


def read_headline(directory: str | Path) -> dict[str, dict[str, float]]:
    """File name (without ``.json``) -> its numbers, for every file of the headline directory."""
    directory = Path(directory)
    if not directory.is_dir():
        raise PipelineError(f"{directory}: cannot read the headline metrics (no such directory); "
                            "run: dvc repro evaluate")
    files = {}
    for path in sorted(directory.glob("*.json")):
        try:
            files[path.stem] = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise PipelineError(f"{path}: not JSON ({exc}); run: dvc repro evaluate") from exc
    return files


def matching_p1(files: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """Direction -> model -> test P@1, for the model files of ``files``."""
    return {direction: {name: numbers[key] for name, numbers in files.items() if key in numbers}
            for direction, key in MATCHING_KEYS.items()}


def validation_p1(files: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
    """Model -> validation P@1, for the model files of ``files``."""
    return {name: numbers[VALIDATION_KEY] for name, numbers in files.items() if VALIDATION_KEY in numbers}
