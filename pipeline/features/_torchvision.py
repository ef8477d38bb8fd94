"""Import torchvision even when its compiled operators do not match the installed torch.

The torchvision wheel on PyPI is a CUDA build; next to the CPU build of torch its ``_C``
extension does not load, so the operators ``torchvision::nms`` and ``torchvision::qnms`` are
never defined, and ``import torchvision`` fails in ``_meta_registrations`` with
``operator torchvision::nms does not exist`` when it registers fake kernels for them.
Defining just their schemas (no kernels) lets the import finish. ``torchvision.models`` and
``torchvision.transforms`` then work fully; ``torchvision.ops`` and ``torchvision.io`` have no
kernels and must not be used (images are decoded with Pillow). With a matching torchvision
build the extension defines the operators itself and nothing is added here.
"""

from __future__ import annotations

import sys
import types

import torch

_SCHEMAS = {
    "nms": "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms": "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
}
_library: torch.library.Library | None = None


def _has_op(name: str) -> bool:
    try:
        getattr(torch.ops.torchvision, name)
    except (AttributeError, RuntimeError):
        return False
    return True


def import_torchvision() -> types.ModuleType:
    """Return the ``torchvision`` module, first defining the operator schemas its import needs.

    Returns
    -------
    module
        ``torchvision``; use ``torchvision.models`` and ``torchvision.transforms`` only.
    """
    global _library
    try:
        import torchvision
    except RuntimeError as exc:
        if "torchvision::" not in str(exc):
            raise
        # The failed import left its already-imported submodules behind; import afresh.
        for module in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[module]
        missing = [name for name in _SCHEMAS if not _has_op(name)]
        if _library is None:
            _library = torch.library.Library("torchvision", "FRAGMENT")
        for name in missing:
            _library.define(_SCHEMAS[name])
        import torchvision
    return torchvision
