"""Reference models for tests, benchmarks and examples: torchvision's ResNets with the CIFAR stem.

torchvision is an optional dependency (``pip install linregions[vision]``); weights are never
downloaded (random initialisation).
"""
from __future__ import annotations

from typing import Any, Sequence

__all__ = ["import_torchvision", "resnet", "cifar_resnet18"]


def import_torchvision() -> Any:
    """``import torchvision``, tolerating a CUDA build of torchvision next to a CPU build of torch.

    Such a pair fails at import (``operator torchvision::nms does not exist``: the compiled
    detection ops cannot load). The models do not need those ops, so their schemas are declared
    (without kernels) and the import is retried.
    """
    try:
        import torchvision
    except RuntimeError as e:
        if "torchvision::nms" not in str(e):
            raise
        import sys

        import torch

        for name in [k for k in sys.modules if k == "torchvision" or k.startswith("torchvision.")]:
            del sys.modules[name]
        global _LIB
        _LIB = torch.library.Library("torchvision", "DEF")
        _LIB.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        _LIB.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        import torchvision
    return torchvision


_LIB = None


def resnet(layers: Sequence[int] = (2, 2, 2, 2), *, width: int = 64, in_channels: int = 3, num_classes: int = 10,
           cifar_stem: bool = True) -> Any:
    """A torchvision ``ResNet`` of ``BasicBlock``s (``(2, 2, 2, 2)``: ResNet-18, ``(3, 4, 6, 3)``:
    ResNet-34) with stage widths ``width * (1, 2, 4, 8)``; the CIFAR stem is a 3x3 conv with
    stride 1 and no max-pooling, the standard stem a 7x7 conv with stride 2 and a 3x3 max-pool.
    Random initialisation, eval mode.

    >>> m = resnet(width=4, num_classes=3)
    >>> type(m).__name__, m.fc.out_features
    ('ResNet', 3)
    """
    tv = import_torchvision()
    from torch import nn
    from torchvision.models.resnet import BasicBlock, ResNet

    m = ResNet(BasicBlock, list(layers), num_classes=num_classes)
    if width != 64 or in_channels != 3:
        # the same architecture with other widths: rebuild the stages with torchvision's own blocks
        m.inplanes = width
        m.conv1 = nn.Conv2d(in_channels, width, 7, 2, 3, bias=False)
        m.bn1 = nn.BatchNorm2d(width)
        m.layer1 = m._make_layer(BasicBlock, width, layers[0])
        m.layer2 = m._make_layer(BasicBlock, 2 * width, layers[1], stride=2)
        m.layer3 = m._make_layer(BasicBlock, 4 * width, layers[2], stride=2)
        m.layer4 = m._make_layer(BasicBlock, 8 * width, layers[3], stride=2)
        m.fc = nn.Linear(8 * width, num_classes)
    if cifar_stem:
        m.conv1 = nn.Conv2d(in_channels, width, 3, 1, 1, bias=False)
        m.maxpool = nn.Identity()
    del tv
    return m.eval()


def cifar_resnet18(width: int = 64, num_classes: int = 10, in_channels: int = 3) -> Any:
    """ResNet-18 with the CIFAR stem (``resnet((2, 2, 2, 2), cifar_stem=True)``)."""
    return resnet((2, 2, 2, 2), width=width, in_channels=in_channels, num_classes=num_classes, cifar_stem=True)
