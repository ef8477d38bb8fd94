"""DVC stage check_params: every section of params.yaml validated as its stage reads it, in under a second.

It comes first in dvc.yaml, so that `dvc repro` and `dvc exp run` stop at the project's own error line for a
bad value, a misspelt key or an unknown model in train.models (which DVC would otherwise report as
"Parameters 'train.<name>' are missing", before any stage of that model runs). Its stamp (the validated
sections, one per line) is what fetch_corpus waits for, so that DVC runs it before any other stage, even for a
target such as `dvc repro train@<model>`.
"""

from __future__ import annotations

import argparse

from pipeline.artifacts.layout import path
from pipeline.core.errors import PipelineError, run_stage
from pipeline.core.files import write_text
from pipeline.core.params import did_you_mean, load_section, read_params
from pipeline.corpus.params import CorpusParams
from pipeline.evaluation.params import EvaluateParams
from pipeline.explorer.params import ExploreParams
from pipeline.features.params import FeaturesParams
from pipeline.images.params import MapImagesParams
from pipeline.models.registry import load_train_config
from pipeline.pretrain.params import PretrainParams

SECTIONS = {"corpus": CorpusParams, "pretrain": PretrainParams, "map_images": MapImagesParams,
            "features": FeaturesParams, "evaluate": EvaluateParams, "explore": ExploreParams}


def check_params(path: str) -> list[str]:
    """Validate every section of the params file at ``path`` (``train`` is required: dvc.yaml's train stages
    come from it; a stage whose section is missing says so itself); the sections, in the file's order."""
    known = [*SECTIONS, "train"]
    found = list(read_params(path))
    for name in found:
        if name not in known:
            raise PipelineError(f"{path}: unknown section {name!r}{did_you_mean(name, known)}; "
                                f"known sections: {', '.join(known)}")
    sections = {name: load_section(cls, name, path) for name, cls in SECTIONS.items() if name in found}
    models = load_train_config(path).models
    if "evaluate" in sections:
        sections["evaluate"].check_models(models)
    if "explore" in sections:
        sections["explore"].shown_models(models)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default=path("params"), help="params file")
    parser.add_argument("--stamp", default=path("params_check"), help="written once the params are valid")
    args = parser.parse_args()
    checked = check_params(args.params)
    write_text(args.stamp, "".join(f"{name}\n" for name in checked))
    print(f"check_params: {args.params} valid ({', '.join(checked)})")


if __name__ == "__main__":
    run_stage(main)
