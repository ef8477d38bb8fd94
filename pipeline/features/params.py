"""The ``features`` section of params.yaml and the encoder names, apart from torch (so that they are checked
before torch is imported)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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
    batch_size: int = 4
    num_workers: int = 2
    threads: int = 0
    seed: int = 0

    def validate(self) -> None:
        """Raise ValueError for out-of-range values."""
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.num_workers < 0:
            raise ValueError(f"num_workers must be >= 0, got {self.num_workers}")
        if self.threads < 0:
            raise ValueError(f"threads must be >= 0 (0: one per available core), got {self.threads}")
