"""The ``features`` section of params.yaml and the encoder names, apart from torch (so that they are checked
before torch is imported)."""

from __future__ import annotations

import re
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
AutocastName = Literal["none", "bf16", "fp16"]
TtaName = Literal["none", "flip"]
_DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?")


@dataclass(frozen=True)
class FeaturesParams:
    """The ``features`` section of params.yaml (see the README for what each key means)."""

    encoder: EncoderName = "efficientnet_lite0"
    weights: WeightsName = "imagenet"
    weights_path: str | None = None
    batch_size: Annotated[int, AT_LEAST_ONE] = 4
    num_workers: Annotated[int, NON_NEGATIVE] = 2
    threads: Annotated[int, Range(ge=0, why="0: one per available core")] = 0
    device: str = "cpu"
    autocast: AutocastName = "none"
    tta: TtaName = "none"
    seed: int = 0
    procs: Annotated[int, AT_LEAST_ONE] = 1
    shard_size: Annotated[int, AT_LEAST_ONE] = 10000

    def validate(self) -> None:
        if not _DEVICE.fullmatch(self.device):
            raise ValueError(f"device: {self.device!r} is not auto, cpu, cuda or cuda:N (N a GPU index)")
        if self.device == "cpu" and self.autocast != "none":
            raise ValueError(f"autocast: {self.autocast!r} works on a CUDA device only; use autocast: none on cpu")
        if self.procs > 1 and self.device != "cpu":
            raise ValueError(f"procs: {self.procs} processes encode on the CPU (gloo); use device: cpu, or procs: 1 "
                             "on a GPU")
        if self.weights_path is not None and self.weights != "imagenet":
            raise ValueError("weights_path: a weights file replaces the ImageNet download; set weights: imagenet "
                             "or weights_path: null")
