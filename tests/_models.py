"""Small torch modules shared by the engine, plane and graph tests (random weights only)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def randomize_bn(bn: nn.BatchNorm2d) -> nn.BatchNorm2d:
    """Non-trivial eval statistics and affine parameters for a batch-norm layer."""
    with torch.no_grad():
        bn.running_mean.normal_()
        bn.running_var.uniform_(0.5, 2.0)
        bn.weight.normal_()
        bn.bias.normal_()
    return bn


class Residual(nn.Module):
    """relu(x + bn(conv2(relu(conv1(x))))): a residual block with c channels."""

    def __init__(self, c):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(c, c, 3, padding=1), nn.Conv2d(c, c, 3, padding=1)
        self.bn = randomize_bn(nn.BatchNorm2d(c))

    def forward(self, x):
        return F.relu(x + self.bn(self.conv2(F.relu(self.conv1(x)))))


class Functional(nn.Module):
    """Functional ops: hardtanh, torch.maximum of two branches, amax, scaling, subtraction."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(5, 6), nn.Linear(5, 6)
        self.out = nn.Linear(3, 2)

    def forward(self, x):
        h = torch.maximum(F.hardtanh(self.a(x)), 0.5 * self.b(x) - 0.1)
        return self.out(torch.amax(h.reshape(-1, 3, 2), dim=2))
