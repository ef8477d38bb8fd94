"""Image decoding shared by featurize and the thumbnails of the report and the explorer (no torch here)."""

from __future__ import annotations

import os

import numpy as np
from PIL import Image, ImageOps


def load_rgb(path: str | os.PathLike) -> Image.Image:
    """Decode an image file into an RGB PIL image.

    EXIF orientation is applied; transparency (RGBA, LA, palette or greyscale with a transparent
    colour) is composited on white; greyscale, 16-bit greyscale, CMYK, YCbCr etc. become RGB.

    Raises
    ------
    Exception
        Whatever Pillow raises for a missing, truncated or unreadable file.
    """
    with Image.open(path) as image:
        image.load()
        image = ImageOps.exif_transpose(image)
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        image = Image.fromarray((np.asarray(image, dtype=np.float32) / 257).clip(0, 255).astype(np.uint8))
    has_alpha = image.mode in ("RGBA", "LA", "RGBa", "La", "PA") or "transparency" in image.info
    if has_alpha:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")
