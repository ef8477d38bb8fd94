"""The ``features`` section of params.yaml and the encoder names, apart from torch (so that they are checked
before torch is imported)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pipeline.core.params import AT_LEAST_ONE, NON_NEGATIVE, Range

EncoderName = Literal[
    "efficientnet_lite0",
    "efficientnet_lite1",
    "efficientnet_lite2",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
]
WeightsName = Literal["imagenet", "none"]


@dataclass(frozen=True)
class FeaturesParams:
    """The ``features`` section of params.yaml (see the README for what each key means)."""

    encoder: EncoderName = "efficientnet_lite0"
    weights: WeightsName = "imagenet"
    batch_size: Annotated[int, AT_LEAST_ONE] = 4
    num_workers: Annotated[int, NON_NEGATIVE] = 2
    threads: Annotated[int, Range(ge=0, why="0: one per available core")] = 0
    seed: int = 0
    procs: Annotated[int, AT_LEAST_ONE] = 1
    shard_size: Annotated[int, AT_LEAST_ONE] = 10000
